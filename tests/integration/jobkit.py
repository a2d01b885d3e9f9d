"""What the job-state tests feed the job-state core: Vertex log entries as Eventarc delivers them,
CustomJobs as Vertex AI returns them, and a trainer's outputs in the staging bucket.

Only the cloud edge is recorded: `RecordedJobService` answers `get_custom_job` with the real
`aiplatform_v1.CustomJob` protos a job had at each of its state changes, so an event read "late" sees
the state the job had when that event was read. The stores, the Slack receiver and Cloud Storage are
the local cloud's real servers.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from google.cloud import aiplatform_v1

from deploy import topology
from shared.cloud.http import NotFound
from shared.runs.record import RunChanges, RunRecord
from shared.runs.states import RunState
from shared.stores.base import RunStore
from tests.records import a_record

PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
PARENT = f"projects/{topology.PROJECT_ID}/locations/{topology.REGION}"
OUTPUT_PREFIX = "runs/job-state-tests/attempt-1/"
OUTPUT_URI = f"gs://{topology.STAGING_BUCKET}/{OUTPUT_PREFIX}"
EVENTS = ("queued", "pending", "running", "succeeded")
_job_ids = itertools.count(int(uuid.uuid4().int % 10**9) * 1000)
T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=timezone.utc)
# Timestamps a store writes when it handles an event: they differ between deliveries by nature.
PROCESSING_TIMES = {f"{state.value}_at" for state in RunState} | {"updated_at", "notified_at", "notify_lease_until"}


class RecordedJobService:
    """The JobServiceClient edge: the CustomJob each job name had at the event now being delivered."""

    def __init__(self) -> None:
        self.current: dict[str, aiplatform_v1.CustomJob] = {}
        self.reads = 0

    def get_custom_job(self, name: str) -> aiplatform_v1.CustomJob:
        self.reads += 1
        if name not in self.current:
            raise NotFound(f"CustomJob {name} not found")  # as shared/jobs/vertex_rest.py raises it
        return self.current[name]

    def __call__(self, region: str) -> RecordedJobService:  # jobs_for_region
        return self


class RecordedPublisher:
    """The run-requests topic edge: what job-state handed to submit-run (continuation messages)."""

    def __init__(self) -> None:
        self.messages: list[tuple[dict[str, Any], dict[str, str]]] = []

    def publish(self, data: bytes, attributes: dict[str, str]) -> str:
        self.messages.append((json.loads(data), dict(attributes)))
        return str(len(self.messages))


def job_snapshots(job_id: str, run_key: str, *, error: str | None = None) -> dict[str, aiplatform_v1.CustomJob]:
    """The CustomJob at each state: queued → pending (DWS wait) → running → succeeded (or failed)."""
    name = f"{PARENT}/customJobs/{job_id}"
    labels = {"flexrun": "run", "run_key": run_key, "attempt": "1"}
    snapshots = {}
    for event in EVENTS:
        job = aiplatform_v1.CustomJob(name=name, display_name=f"flexrun-{run_key}", labels=labels)
        job.create_time = T0
        job.state = aiplatform_v1.JobState[f"JOB_STATE_{event.upper()}"]
        if event in ("running", "succeeded"):
            job.start_time = T0 + timedelta(seconds=95)
        if event == "succeeded":
            job.end_time = T0 + timedelta(seconds=95 + 1800)
            if error:
                job.state = aiplatform_v1.JobState.JOB_STATE_FAILED
                job.error.code, job.error.message = 3, error
        snapshots[event] = job
    return snapshots


def without_error(job: aiplatform_v1.CustomJob) -> aiplatform_v1.CustomJob:
    """The same job before Vertex set its error (it does so about a minute after the end)."""
    bare = aiplatform_v1.CustomJob(job)
    bare.end_time = datetime.now(timezone.utc)
    del bare.error
    return bare


def log_entry(job_id: str, text: str, *, json_payload: bool = False, severity: str = "INFO") -> dict[str, Any]:
    """A Vertex `service` log entry as the Cloud Logging sink forwards it."""
    entry: dict[str, Any] = {
        "insertId": uuid.uuid4().hex[:12],
        "logName": f"projects/{topology.PROJECT_ID}/logs/ml.googleapis.com%2F{job_id}",
        "resource": {
            "type": "ml_job",
            "labels": {"job_id": job_id, "project_id": topology.PROJECT_ID, "task_name": "service"},
        },
        "severity": severity,
        "timestamp": datetime.now(timezone.utc).isoformat(),
    }
    if json_payload:
        entry["jsonPayload"] = {"message": text, "levelname": severity}
    else:
        entry["textPayload"] = text
    return entry


def pubsub_event(data: bytes, *, event_id: str | None = None) -> CloudEvent:
    """`messagePublished` as Eventarc delivers it from the job-events topic."""
    message_id = event_id or uuid.uuid4().hex[:16]
    attributes = {
        "type": PUBSUB_PUBLISHED,
        "source": f"//pubsub.googleapis.com/projects/{topology.PROJECT_ID}/topics/{topology.JOB_EVENTS_TOPIC}",
        "id": message_id,
        "time": datetime.now(timezone.utc).isoformat(),
        "specversion": "1.0",
    }
    body = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": message_id,
            "publishTime": attributes["time"],
        },
        "subscription": f"projects/{topology.PROJECT_ID}/subscriptions/eventarc-job-state",
    }
    return CloudEvent(attributes, body)


def entry_event(entry: dict[str, Any]) -> CloudEvent:
    return pubsub_event(json.dumps(entry).encode())


def new_run(store: RunStore, *, gpu_type: str = "NVIDIA_L4", **fields: Any) -> tuple[str, str]:
    """A run as the submit function leaves it: claimed, its job attached, queued. Returns (run_key, job_id)."""
    job_id = str(next(_job_ids))
    run_key = f"js-{job_id}"
    claim = a_record(
        run_key=run_key,
        gpu_type=gpu_type,
        machine_type="g2-standard-4" if gpu_type == "NVIDIA_L4" else "n1-standard-8",
        region=topology.REGION,
        correlation_id=f"corr-{job_id}",
        **{"output_uri": OUTPUT_URI, **fields},
    )
    store.claim(claim)
    store.update(run_key, 1, RunChanges(job_name=f"{PARENT}/customJobs/{job_id}", job_id=job_id))
    store.advance(run_key, 1, RunState.QUEUED)
    return run_key, job_id


def content(record: RunRecord) -> dict[str, Any]:
    """What a run says, without its identity and the moments a store handled its events."""
    identity = {"run_key", "job_id", "job_name", "correlation_id"}
    return record.model_dump(exclude=PROCESSING_TIMES | identity)


def known_fields_only(record: RunRecord) -> bool:
    return not record.model_extra


def write_trainer_outputs(storage: Any, prefix: str = OUTPUT_PREFIX, *, model_rmse: float = 22.25) -> None:
    """A finished trainer's model directory (shapes from trainer/README.md), `_SUCCESS` last."""
    bucket = storage.bucket(topology.STAGING_BUCKET)
    block = {
        "model": {"rmse": model_rmse, "mae": 11.72, "mape": 0.485, "directional_accuracy": 0.56},
        "naive_last_value": {"rmse": 22.77, "mae": 11.95, "mape": 0.49, "directional_accuracy": 0.475},
        "moving_average": {"rmse": 31.97, "mae": 18.51, "mape": 0.745, "directional_accuracy": 0.502},
        "samples": 882,
    }
    metrics = {
        "schema_version": 1,
        "package": {"name": "flexrun-trainer", "version": "0.1.0"},
        "evaluation": {
            "period": {"first_target_date": "2016-09-14", "last_target_date": "2017-11-10"},
            "overall": block,
            "model_beats_naive": {"rmse": True, "mae": True, "mape": True, "directional_accuracy": True},
        },
    }
    predictions = {
        "schema_version": 1,
        "package_version": "0.1.0",
        "generated_at": "2026-11-27T10:30:00+00:00",
        "model": "gru",
        "horizon_days": 1,
        "predictions": [
            {"symbol": symbol, "last_date": "2017-11-10", "target_date": "2017-11-13", "last_close": close,
             "predicted_close": close * 1.0007, "predicted_return": 0.0007,
             "baselines": {"naive_last_value": close, "moving_average": close * 1.002}}
            for symbol, close in (("IXIC", 6750.94), ("MSFT", 83.87), ("SPX", 2582.3))
        ],
    }  # fmt: skip
    model_dir = prefix + "model/"
    bucket.blob(model_dir + "metrics.json").upload_from_string(json.dumps(metrics))
    bucket.blob(model_dir + "predictions.json").upload_from_string(json.dumps(predictions))
    bucket.blob(model_dir + "forecast.png").upload_from_string(b"\x89PNG\r\n")
    bucket.blob(model_dir + "model.keras").upload_from_string(b"PK")
    bucket.blob(model_dir + "_SUCCESS").upload_from_string(json.dumps({"package_version": "0.1.0"}))


# A DWS price for the runs these tests make (L4 on g2-standard-4, FLEX_START): the catalog leaves prices it
# has not verified unknown, and an unknown price leaves the cost unknown (shared/runs/cost.py).
TEST_DWS_PRICE = 0.36


@contextlib.contextmanager
def dws_price(usd_per_hour: float = TEST_DWS_PRICE) -> Iterator[None]:
    from shared.jobs import catalog

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(
            catalog.load_catalog()["gpus"]["NVIDIA_L4"]["prices"]["g2-standard-4"], "FLEX_START", usd_per_hour
        )
        yield
