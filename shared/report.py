"""Job-state event → the run record advanced (monotonic) → one Slack message per terminal state.

Dedupe key: (run_key, attempt, state). The record only moves forward; the announcement of a terminal
state is guarded by a lease in the store, so redeliveries and concurrent events announce it once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shared import logs
from shared.catalog import estimated_cost_usd
from shared.errors import InvalidEvent, TransientError
from shared.failures import classify_failure
from shared.job_events import JobWakeUp
from shared.notifier import Notifier
from shared.run_messages import run_finished
from shared.runs import RunState, from_vertex
from shared.settings import Settings
from shared.store import RunStore
from shared.vertex_errors import classify


@dataclass(frozen=True)
class ReportOutcome:
    action: str  # "ignored" | "advanced" | "unchanged"
    run_key: str | None = None
    state: str | None = None
    notified: bool = False


def _plain(value: Any) -> datetime | None:
    """proto-plus timestamps → aware stdlib datetimes (None for an unset timestamp)."""
    if not value:
        return None
    return datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=timezone.utc,
    )


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def read_trainer_outputs(storage: Any, output_uri: str) -> dict[str, Any]:
    """metrics.json and predictions.json from the job's model directory, once `_SUCCESS` is there."""
    from google.api_core import exceptions as gexc

    bucket_name, _, prefix = output_uri.removeprefix("gs://").partition("/")
    model_dir = prefix.rstrip("/") + "/model/"
    bucket = storage.bucket(bucket_name)
    try:
        if not bucket.blob(model_dir + "_SUCCESS").exists():
            return {"outputs_complete": False}
        metrics = json.loads(bucket.blob(model_dir + "metrics.json").download_as_bytes())
        predictions = json.loads(bucket.blob(model_dir + "predictions.json").download_as_bytes())
    except gexc.NotFound:
        return {"outputs_complete": False}
    except (gexc.ServiceUnavailable, gexc.TooManyRequests, gexc.InternalServerError, OSError) as exc:
        raise TransientError(f"reading trainer outputs failed: {exc.__class__.__name__}") from exc
    except json.JSONDecodeError:
        return {"outputs_complete": False, "outputs_error": "metrics.json or predictions.json is not JSON"}
    # `_SUCCESS` lists every file the trainer wrote (plot, model, ...): record each as an artifact.
    try:
        written = json.loads(bucket.blob(model_dir + "_SUCCESS").download_as_bytes()).get("files") or {}
    except (gexc.NotFound, json.JSONDecodeError, AttributeError):
        written = {}
    names = sorted({"metrics.json", "predictions.json", *written})
    artifacts = {name: f"gs://{bucket_name}/{model_dir}{name}" for name in names}
    return {"outputs_complete": True, "metrics": metrics, "predictions": predictions, "artifacts": artifacts}


def _job_fields(job: Any, record: dict[str, Any], state: RunState) -> dict[str, Any]:
    created, started, ended = _plain(job.create_time), _plain(job.start_time), _plain(job.end_time)
    run_seconds = _seconds_between(started, ended)
    fields: dict[str, Any] = {
        "vertex_state": job.state.name,
        "created_at": created,
        "started_at": started,
        "ended_at": ended,
        "wait_seconds": _seconds_between(created, started),
        "run_seconds": run_seconds,
        "estimated_cost_usd": estimated_cost_usd(record.get("gpu_type", ""), record.get("gpu_count", 1), run_seconds),
    }
    if job.error and job.error.message:
        failure_class, hint = classify_failure(job.error.message)
        fields.update(
            {
                "error": {"code": job.error.code, "message": job.error.message},
                "failure_class": failure_class,
                "hint": hint,
            }
        )
    return fields


def handle_job_wake_up(
    wake_up: JobWakeUp, *, settings: Settings, jobs_for_region: Any, store: RunStore, storage: Any, notifier: Notifier
) -> ReportOutcome:
    from google.api_core import exceptions as gexc

    record = store.find_by_job_id(wake_up.job_id)
    if record is None:
        return _unknown_job(wake_up, settings, jobs_for_region)
    logs.bind(run_key=record["run_key"], correlation_id=record.get("correlation_id"))
    try:
        job = jobs_for_region(record["region"]).get_custom_job(name=record["job_name"])
    except gexc.NotFound:
        raise InvalidEvent(f"job {record['job_name']} no longer exists") from None
    except Exception as exc:
        raise classify(exc, "reading the job") from exc

    state = from_vertex(job.state.name, job.error.message if job.error else "")
    if state is None:
        return ReportOutcome("unchanged", record["run_key"], record.get("state"))
    fields = _job_fields(job, record, state)
    if state is RunState.SUCCEEDED:
        fields.update(read_trainer_outputs(storage, record["output_uri"]))
    moved = store.advance(record["run_key"], record["attempt"], state, fields)
    logs.info(
        "run state " + ("advanced" if moved else "unchanged"),
        state=state.value,
        vertex_state=job.state.name,
        job_name=record["job_name"],
    )

    notified = False
    if state.is_terminal():
        notified = _announce_once(store, record["run_key"], record["attempt"], notifier)
    return ReportOutcome("advanced" if moved else "unchanged", record["run_key"], state.value, notified)


def _unknown_job(wake_up: JobWakeUp, settings: Settings, jobs_for_region: Any) -> ReportOutcome:
    """No record for this job: ours but not attached yet (retry), or not ours at all (ignore)."""
    from google.api_core import exceptions as gexc

    name = f"{settings.vertex_parent}/customJobs/{wake_up.job_id}"
    try:
        job = jobs_for_region(settings.gcp_region).get_custom_job(name=name)
    except gexc.NotFound:
        job = None
    except Exception as exc:
        raise classify(exc, "reading an unknown job") from exc
    if job is not None and job.labels.get("flexrun") == "run":
        # The submit function created it and has not recorded it yet (or crashed before it could and
        # its redelivery will): retrying this event later finds the record.
        raise TransientError(f"job {wake_up.job_id} has no run record yet")
    logs.info("job event for a job flexrun did not submit; ignored", job_id=wake_up.job_id)
    return ReportOutcome("ignored")


def _announce_once(store: RunStore, run_key: str, attempt: int, notifier: Notifier) -> bool:
    current = store.get(run_key, attempt)
    if current is None:
        return False
    terminal = RunState(current["state"])
    if current.get("notified_state") == terminal.value or not store.claim_notification(run_key, attempt, terminal):
        return False
    try:
        notifier.send(run_finished(current))
    except Exception:
        store.finish_notification(run_key, attempt, terminal, sent=False)
        raise
    store.finish_notification(run_key, attempt, terminal, sent=True)
    logs.notice("run announced", state=terminal.value)
    return True
