"""What the chaos tests share: the tiny trainer package, run helpers, a tap on the topics, raw deliveries.

Everything goes in through the production clients (storage upload, Pub/Sub publish) or as the HTTP
CloudEvents Eventarc posts, and comes out as records, Vertex jobs, Slack payloads and log lines.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import tarfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

from deploy import topology
from deploy.spec import FUNCTIONS
from local.demo import chain
from local.services.cloud import LocalCloud
from local.standins.cloudevents import Message, message_published_event, storage_finalized_event
from local.standins.faultproxy import FaultProxy
from shared.polling import PollTimeout, poll

PACKAGE_VERSION = "1.0.0"
# The trainer stand-in: writes what job-state reads (shared/runs/trainer_outputs.py) in well under a second.
TINY_TASK = b'''"""A stand-in trainer for the chaos tests: the outputs of a finished run, no training."""
import json
import os
import sys
import time


def main() -> int:
    started = time.monotonic()
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    bucket_name, _, prefix = os.environ["AIP_MODEL_DIR"].removeprefix("gs://").partition("/")
    bucket = storage.Client(project="local", credentials=AnonymousCredentials()).bucket(bucket_name)
    prediction = {"symbol": "SPX", "last_date": "2017-11-10", "target_date": "2017-11-13",
                  "last_close": 2582.3, "predicted_close": 2584.1, "predicted_return": 0.0007}
    predictions = {"schema_version": 1, "package_version": "tiny", "generated_at": "2026-11-27T10:30:00+00:00",
                   "model": "tiny", "horizon_days": 1, "predictions": [prediction]}
    metrics = {"schema_version": 1, "run": {"duration_seconds": round(time.monotonic() - started, 3)}}
    bucket.blob(prefix + "predictions.json").upload_from_string(json.dumps(predictions))
    bucket.blob(prefix + "metrics.json").upload_from_string(json.dumps(metrics))
    bucket.blob(prefix + "_SUCCESS").upload_from_string("{}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def tiny_package(version: str) -> bytes:
    """A valid flexrun-trainer sdist, byte-identical for a version (the local Vertex caches its venv)."""
    root = f"flexrun_trainer-{version}"
    files = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: flexrun-trainer\nVersion: {version}\n".encode(),
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "flexrun-trainer"\nversion = "{version}"\n'
        ).encode(),
        "src/flexrun_trainer/__init__.py": b"",
        "src/flexrun_trainer/task.py": TINY_TASK,
    }
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size, info.mtime, info.mode = len(content), 1_700_000_000, 0o644
            archive.addfile(info, io.BytesIO(content))
    return gzip.compress(tar.getvalue(), mtime=0)  # a fixed gzip header time keeps the bytes stable


def upload(cloud: LocalCloud, version: str, tmp_dir: Any) -> chain.Upload:
    path = tmp_dir / f"flexrun_trainer-{version}.tar.gz"
    path.write_bytes(tiny_package(version))
    return chain.upload_package(cloud, path, uploader="chaos")


def manifest_entries(cloud: LocalCloud, object_name: str) -> list[dict[str, Any]]:
    manifest = chain.read_manifest(cloud) or {"entries": []}
    return [entry for entry in manifest["entries"] if entry["object_name"] == object_name]


def run_request(run_key: str, **extra: Any) -> dict[str, Any]:
    return {"run_key": run_key, "package_version": PACKAGE_VERSION, "requested_by": "chaos", "max_wait": 600,
            "timeout": 600, **extra}  # fmt: skip


def jobs_for(cloud: LocalCloud, run_key: str) -> list[Any]:
    return _list_jobs(cloud, f'labels.run_key="{run_key}"')


def job_count(cloud: LocalCloud) -> int:
    return len(_list_jobs(cloud, ""))


def _list_jobs(cloud: LocalCloud, label_filter: str) -> list[Any]:
    from google.api_core.exceptions import ServiceUnavailable, TooManyRequests
    from google.api_core.retry import Retry, if_exception_type
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform_v1

    client = aiplatform_v1.JobServiceClient(
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        transport="rest",
        client_options={"api_endpoint": cloud.env["VERTEX_AI_API_ENDPOINT"]},
    )
    parent = f"projects/{topology.PROJECT_ID}/locations/{topology.REGION}"
    # The test's own reads ride out the 429/503 faults armed on the local Vertex for the functions.
    retry = Retry(predicate=if_exception_type(TooManyRequests, ServiceUnavailable), initial=0.2, timeout=30)
    request = {"parent": parent, "filter": label_filter}
    return list(client.list_custom_jobs(request=request, retry=retry))


def slack_for(cloud: LocalCloud, run_key: str) -> list[dict[str, Any]]:
    return [m for m in cloud.slack_messages() if f"`{run_key}`" in m.get("text", "") or run_key in m.get("text", "")]


def records_for(cloud: LocalCloud, run_key: str) -> list[dict[str, Any]]:
    return list(chain.runs_collection(cloud).find({"run_key": run_key}, {"_id": 0}))


def admin(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10):
        pass


def post(url: str, event: CloudEvent | None = None, *, headers: dict[str, str] | None = None,
         body: bytes = b"") -> int:  # fmt: skip
    """POST a CloudEvent in binary mode (as Eventarc does), or raw headers and body; the HTTP status."""
    if event is not None:
        raw_headers, raw_body = to_binary(event)
        headers, body = dict(raw_headers), raw_body if isinstance(raw_body, bytes) else str(raw_body).encode()
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@dataclass
class Tap:
    """Extra pull subscriptions on the chain's topics: a copy of every event, to deliver again by hand."""

    cloud: LocalCloud
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        from local.services.clients import subscriber_client

        self.subscriber = subscriber_client(self.cloud.env["PUBSUB_EMULATOR_HOST"])
        for spec in FUNCTIONS:
            self.subscriber.create_subscription(
                name=self._path(spec.name), topic=f"projects/{topology.PROJECT_ID}/topics/{spec.topic}"
            )

    def _path(self, function: str) -> str:
        return f"projects/{topology.PROJECT_ID}/subscriptions/tap-{self.name}-{function}"

    def events(self, function: str) -> list[CloudEvent]:
        """Every event the function's trigger would deliver that arrived since the last call."""
        spec = next(s for s in FUNCTIONS if s.name == function)
        events: list[CloudEvent] = []
        while True:
            # return_immediately: an empty subscription answers at once, not after the RPC timeout
            response = self.subscriber.pull(
                subscription=self._path(function), max_messages=100, return_immediately=True, timeout=10
            )
            if not response.received_messages:
                return events
            self.subscriber.acknowledge(
                subscription=self._path(function), ack_ids=[r.ack_id for r in response.received_messages]
            )
            for received in response.received_messages:
                pulled = received.message
                message = Message(pulled.message_id, bytes(pulled.data), pulled.publish_time, dict(pulled.attributes))
                if spec.event_type == topology.STORAGE_FINALIZED:
                    event = storage_finalized_event(message, topology.PACKAGE_BUCKET)
                else:
                    event = message_published_event(message, topology.PROJECT_ID, spec.topic, spec.subscription)
                if event is not None:
                    events.append(event)

    def close(self) -> None:
        for spec in FUNCTIONS:
            try:
                self.subscriber.delete_subscription(subscription=self._path(spec.name))
            except Exception:  # noqa: BLE001 — an emulator restart already removed it
                pass
        self.subscriber.close()


@dataclass
class Chaos:
    """The chaos suite's own local cloud, its proxies and the fake secrets its functions hold."""

    cloud: LocalCloud
    proxies: dict[str, FaultProxy]
    secrets: dict[str, str]

    def url(self, function: str) -> str:
        return self.cloud.function_url(function)


def deliver_until_acked(url: str, event: CloudEvent, deadline_s: float = 90.0) -> list[int]:
    """Post as Eventarc does with `--retry`: again after a growing pause until the function answers 2xx."""
    statuses: list[int] = []

    def acknowledged() -> bool:
        statuses.append(post(url, event))
        return 200 <= statuses[-1] < 300

    with contextlib.suppress(PollTimeout):  # the caller asserts on the statuses
        poll(acknowledged, timeout=deadline_s, what="an acknowledgement", interval=0.2, max_interval=2.0)
    return statuses


def storm(chaos: Chaos, deliveries: list[tuple[str, CloudEvent]], workers: int = 8) -> list[list[int]]:
    """Deliver every (function, event) pair concurrently, each until acknowledged."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda pair: deliver_until_acked(chaos.url(pair[0]), pair[1]), deliveries))


def wait_for_record(cloud: LocalCloud, run_key: str, predicate: Any, timeout: float = 60) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        record = chain.runs_collection(cloud).find_one({"run_key": run_key}, {"_id": 0})
        return record if record and predicate(record) else None

    return poll(probe, timeout=timeout, what=f"run {run_key} to match", interval=0.1)


def log_lines(cloud: LocalCloud, function: str) -> list[dict[str, Any]]:
    lines = []
    for raw in cloud.log_path(function).read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
    return lines


def supabase_rows(chaos: Chaos, table: str, run_key: str | None = None) -> list[dict[str, Any]]:
    """Rows of a Supabase table, read straight from its PostgreSQL (not through flexrun's store)."""
    import psycopg
    from psycopg import sql

    query = sql.SQL("select row_to_json(t) from public.{} t").format(sql.Identifier(table))
    with psycopg.connect(chaos.cloud.endpoints["postgres"]) as connection:
        if run_key is None:
            return [row[0] for row in connection.execute(query)]
        where = sql.SQL("{} where t.run_key = %s").format(query)
        return [row[0] for row in connection.execute(where, (run_key,))]


def job_id_of(event: CloudEvent) -> str | None:
    """The Vertex job a captured job-state event (a log entry in a Pub/Sub message) is about."""
    import base64

    try:
        entry = json.loads(base64.b64decode(event.data["message"]["data"]))
        return str(entry["resource"]["labels"]["job_id"])
    except (KeyError, TypeError, ValueError):
        return None


def crash_function(
    chaos: Chaos, function: str, timeout: float = 60, after_kill: Callable[[], object] | None = None
) -> None:
    """SIGKILL the function's whole process group (its instance dies mid-event), run `after_kill`, then
    wait until the supervisor has served it again on the same port."""
    import os
    import signal

    from local.services.processes import tcp_probe

    process = chaos.cloud.process(function)
    pid, before = process.pid, chaos.cloud.supervisor.restarts.get(process.name, 0)
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    if after_kill is not None:
        after_kill()
    serving = tcp_probe(int(chaos.url(function).rstrip("/").rsplit(":", 1)[1]))

    def restarted() -> bool | None:
        back = chaos.cloud.supervisor.restarts.get(process.name, 0) > before and process.pid not in (None, pid)
        return True if back and not process.exited() and serving() else None

    poll(restarted, timeout=timeout, what=f"{function} to be restarted", interval=0.1)


def wait_for_stall(proxy: FaultProxy, since: int, timeout: float = 60) -> None:
    """Until a request is held by the stalled proxy: some handler is now in the middle of an event."""
    poll(lambda: proxy.stalled_chunks > since, timeout=timeout, what="a request to reach the stalled proxy")


def vertex_job_state(cloud: LocalCloud, run_key: str) -> str | None:
    jobs = jobs_for(cloud, run_key)
    return jobs[0].state.name if len(jobs) == 1 else None


class DetachedTrigger:
    """The function's Eventarc trigger loses every event for a while: its subscription is deleted, then
    created again as deployed. Messages published in between never reach the function (a tap still
    copies them), as when a log sink drops entries: what the reconciler repairs."""

    def __init__(self, cloud: LocalCloud, function: str) -> None:
        from local.services.clients import subscriber_client

        self.spec = next(s for s in FUNCTIONS if s.name == function)
        self.subscriber = subscriber_client(cloud.env["PUBSUB_EMULATOR_HOST"])
        self.path = f"projects/{topology.PROJECT_ID}/subscriptions/{self.spec.subscription}"

    def __enter__(self) -> DetachedTrigger:
        self.subscriber.delete_subscription(subscription=self.path)
        return self

    def __exit__(self, *_: object) -> None:
        try:  # the same settings as local/services/pubsub.py create_topology
            topic = f"projects/{topology.PROJECT_ID}/topics/{self.spec.topic}"
            self.subscriber.create_subscription(name=self.path, topic=topic, ack_deadline_seconds=600)
        finally:
            self.subscriber.close()


def function_settings(chaos: Chaos, function: str = "reconcile-runs") -> Any:
    """The settings a deployed function runs with (its own environment), for running its core in the test."""
    from shared.config.settings import Settings

    env = chaos.cloud.function_envs[function]
    return Settings(**{k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields})
