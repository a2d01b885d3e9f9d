"""Cloud Scheduler: publish each job's message to its Pub/Sub topic on a fixed period.

Run as its own process: `python -m local.standins.scheduler --jobs FILE`. The jobs file (JSON) names
the emulator and, per job, its topic, period, message body and attributes, taken from the deploy
spec's schedules (deploy/spec.py), so the tick a function gets locally is the one it gets deployed.
Only periods, not cron: the local cloud ticks what must tick during a session (the reconciler); the
nightly run schedule is not started locally (`flexrun schedule tick` publishes it by hand).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.services.processes import ManagedProcess, start_python_standin
from shared.config import logs
from shared.config.logs import log


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    topic: str
    every_seconds: float
    body: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Jobs:
    pubsub_host: str
    project: str
    jobs: tuple[ScheduledJob, ...]

    @classmethod
    def load(cls, path: Path) -> Jobs:
        raw = json.loads(path.read_text())
        return cls(raw["pubsub_host"], raw["project"], tuple(ScheduledJob(**job) for job in raw["jobs"]))


def run(config: Jobs, stopping: threading.Event) -> None:
    from local.services.clients import publisher_client

    publisher = publisher_client(config.pubsub_host)
    publish: Callable[..., Any] = publisher.publish  # attributes are keyword arguments (typed loosely)

    def tick(job: ScheduledJob) -> None:
        topic = f"projects/{config.project}/topics/{job.topic}"
        # Like Cloud Scheduler: the first run comes one period after the job exists, then every period.
        while not stopping.wait(job.every_seconds):
            try:
                message_id = publish(topic, job.body.encode(), **job.attributes).result(timeout=30)
                log("DEBUG", "published", job=job.name, topic=job.topic, message_id=message_id)
            except Exception as error:  # noqa: BLE001 — a missed tick is what Cloud Scheduler retries; so do we
                log("WARNING", "publish failed", job=job.name, error=repr(error))

    threads = [threading.Thread(target=tick, args=(job,), daemon=True) for job in config.jobs]
    for thread in threads:
        thread.start()
    stopping.wait()


def start_scheduler(state_dir: Path, python: str, repo_root: Path, config: Jobs) -> ManagedProcess:
    return start_python_standin("scheduler", "jobs", config, state_dir, python, repo_root)


def main(argv: list[str] | None = None) -> None:
    logs.setup(component="scheduler")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=Path, required=True, help="JSON jobs file")
    parser.add_argument("--ready-file", type=Path, help="touched once the jobs are scheduled")
    args = parser.parse_args(argv)
    config = Jobs.load(args.jobs)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    for job in config.jobs:
        log("INFO", "job", job=job.name, topic=job.topic, every_seconds=job.every_seconds)
    if args.ready_file:
        args.ready_file.write_text("ready\n")
    run(config, stopping)


if __name__ == "__main__":
    main()
