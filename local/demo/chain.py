"""Drive the whole event chain from the outside, as a user would: build, upload, publish, wait.

Used by `make demo` and by the integration tests, so both exercise exactly the same steps through
the production client libraries.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from deploy import topology
from local.services.cloud import REPO_ROOT, LocalCloud
from shared.cloud import clients
from shared.config.settings import Settings
from shared.polling import PollTimeout, poll
from shared.runs.record import Prediction, RunRecord
from shared.stores.mongo_store import MongoRunStore

MANIFEST_OBJECT = Settings.model_fields["flexrun_manifest_object"].default  # what the functions write
T = TypeVar("T")


class ChainStalled(PollTimeout):
    """A step of the chain did not happen in time; the message says which one."""


def build_trainer_package(out_dir: Path) -> Path:
    """`python -m build --sdist trainer/` — the same command the deploy build runs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("flexrun_trainer-*.tar.gz"):
        old.unlink()
    command = [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out_dir)]
    result = subprocess.run([*command, str(REPO_ROOT / "trainer")], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"building the trainer package failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    (built,) = out_dir.glob("flexrun_trainer-*.tar.gz")
    return built


@dataclass(frozen=True)
class Upload:
    object_name: str
    generation: int


def upload_package(cloud: LocalCloud, path: Path, *, name: str | None = None, uploader: str = "local-demo") -> Upload:
    bucket = cloud.storage_client().bucket(topology.PACKAGE_BUCKET)
    blob = bucket.blob(f"packages/{name or path.name}")
    blob.metadata = {"uploader": uploader}
    blob.upload_from_filename(str(path), content_type="application/gzip")
    return Upload(blob.name, int(blob.generation))


def read_manifest(cloud: LocalCloud) -> dict[str, Any] | None:
    blob = cloud.storage_client().bucket(topology.PACKAGE_BUCKET).get_blob(MANIFEST_OBJECT)
    return json.loads(blob.download_as_bytes()) if blob is not None else None


def wait_for_manifest_entry(cloud: LocalCloud, upload: Upload, timeout: float = 60) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        manifest = read_manifest(cloud) or {"entries": []}
        return next(
            (
                e
                for e in manifest["entries"]
                if (e["object_name"], e["generation"]) == (upload.object_name, upload.generation)
            ),
            None,
        )

    return poll(
        probe, timeout=timeout, what=f"the manifest entry of {upload.object_name}", interval=0.25, error=ChainStalled
    )


def publish_run(cloud: LocalCloud, request: dict[str, Any], **attributes: str) -> str:
    publisher = cloud.publisher()
    topic = publisher.topic_path(topology.PROJECT_ID, topology.RUN_REQUESTS_TOPIC)
    # publish(topic, data, ordering_key, retry, timeout, **attrs): typed loosely so mypy does not bind
    # the attributes to `retry`.
    publish_to: Callable[..., Any] = publisher.publish
    return str(publish_to(topic, json.dumps(request).encode(), **attributes).result(timeout=30))


def runs_collection(cloud: LocalCloud) -> Any:
    # The functions' own cached client: tests call this inside polling loops.
    return clients.mongo_database(cloud.env["MONGODB_URL"])["runs"]


def wait_for_run(cloud: LocalCloud, run_key: str, timeout: float = 600) -> RunRecord:
    """The run record (read through flexrun's own store) once it is terminal and announced."""
    store = MongoRunStore(runs_collection(cloud).database)

    def probe() -> RunRecord | None:
        record = store.get(run_key)
        return record if record and record.announced else None

    what = f"run {run_key} to finish and be announced"
    return poll(probe, timeout=timeout, what=what, interval=0.5, error=ChainStalled)


def predictions_for(cloud: LocalCloud, run_key: str) -> list[Prediction]:
    return MongoRunStore(runs_collection(cloud).database).predictions(run_key)


def slack_messages_for(cloud: LocalCloud, run_key: str) -> list[dict[str, Any]]:
    return [m for m in cloud.slack_messages() if run_key in m.get("text", "")]
