"""CLI: `python -m local.standins.vertex --host H --port P --state-dir DIR --executor-python PY --env-cache DIR
--project local-project [--log-topic job-events] [--capacity NVIDIA_L4=1 ...] [--provision-seconds 1.0]
[--end-delay-seconds 3.0] [--image URI ...]`.

`--image` names a container image as built from image/ and pushed: a ContainerSpec job on it runs the
image's entry point, image/launcher.py, on the executor venv's python. Any other image cannot be pulled.

Reads STORAGE_EMULATOR_HOST (package downloads, passed on to replicas) and PUBSUB_EMULATOR_HOST
(log entries) from the environment. Exits cleanly on SIGTERM/SIGINT, killing running replicas.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from local.standins.vertex.capacity import CapacityPool
from local.standins.vertex.environments import EnvironmentCache
from local.standins.vertex.logsink import LogSink
from local.standins.vertex.runner import RunnerContext
from local.standins.vertex.server import VertexServer
from local.standins.vertex.service import JobService
from local.standins.vertex.store import JobStore
from shared.config import logs
from shared.config.logs import log

# The entry point of every image built from image/ (its Dockerfile's ENTRYPOINT).
LAUNCHER = Path(__file__).resolve().parents[3] / "image" / "launcher.py"


def _capacity(text: str) -> tuple[str, int]:
    name, _, count = text.partition("=")
    if not name or not count.isdigit():
        raise argparse.ArgumentTypeError(f"expected GPU_TYPE=COUNT, got {text!r}")
    return name, int(count)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.standins.vertex", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True, help="jobs, replica logs, log-entries.jsonl")
    parser.add_argument("--executor-python", type=Path, required=True, help="the prebuilt-image stand-in venv's python")
    parser.add_argument("--env-cache", type=Path, required=True, help="per-package venvs, keyed by sha256")
    parser.add_argument("--project", default="local-project", help="project of the log topic and log names")
    parser.add_argument("--log-topic", default=None, help="Pub/Sub topic the job log entries are published to")
    parser.add_argument(
        "--capacity",
        type=_capacity,
        action="append",
        default=[],
        metavar="GPU=N",
        help="concurrent jobs per accelerator type (default 1 for any type not named)",
    )
    parser.add_argument("--provision-seconds", type=float, default=1.0, help="time from capacity to RUNNING")
    parser.add_argument(
        "--end-delay-seconds",
        type=float,
        default=3.0,
        help="time from a job's last service log line to its terminal state and error (Vertex: about a minute)",
    )
    parser.add_argument(
        "--image", action="append", default=[], metavar="URI", help="a trainer image built from image/ (repeatable)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logs.setup(component="local-vertex")
    args.state_dir.mkdir(parents=True, exist_ok=True)
    capacity = CapacityPool(dict(args.capacity))
    ctx = RunnerContext(
        store=JobStore(args.state_dir),
        capacity=capacity,
        environments=EnvironmentCache(args.env_cache, args.executor_python),
        sink=LogSink(args.state_dir / "log-entries.jsonl", args.project, args.log_topic),
        project=args.project,
        provision_seconds=args.provision_seconds,
        end_delay_seconds=args.end_delay_seconds,
        storage_emulator_host=os.environ.get("STORAGE_EMULATOR_HOST"),
        images=frozenset(args.image),
        launcher=LAUNCHER,
    )
    service = JobService(ctx)
    server = VertexServer((args.host, args.port), service, capacity)

    def stop(signum: int, frame: FrameType | None) -> None:
        log("INFO", "stopping", signal=signal.Signals(signum).name)
        # shutdown() waits for serve_forever to return, so it must run off the serving thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(
        "INFO",
        "listening",
        host=args.host,
        port=args.port,
        state_dir=str(args.state_dir),
        capacity=capacity.snapshot(),
        log_topic=args.log_topic,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        service.shutdown()
        server.server_close()
        log("INFO", "stopped")


if __name__ == "__main__":
    main()
