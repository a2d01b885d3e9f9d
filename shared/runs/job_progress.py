"""A job observed → its run record advanced (monotonic) → one Slack message per terminal attempt.

Shared by job-state (a log line woke the job) and the reconciler (a scheduled tick found the run open):
both read the job from Vertex and hand it here, so a run ends the same way whoever saw it end.
Dedupe key: (run_key, attempt, state). The record only moves forward; the announcement of a terminal
state is guarded by a lease in the store, so redeliveries and concurrent events announce it once.
A capacity failure's next attempt is published for submit-run (shared/runs/continuation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shared.cloud.http import NotFound  # what Vertex answers for a job that does not exist
from shared.cloud.publisher import Publisher
from shared.config import logs
from shared.config.settings import Settings
from shared.errors import InvalidEvent, TransientError
from shared.events.job_logs import JobWakeUp
from shared.jobs.api_errors import classify
from shared.notify.slack import Notifier
from shared.runs import cost, failures
from shared.runs.announce import announce_once
from shared.runs.continuation import continue_elsewhere
from shared.runs.record import RunChanges, RunError, RunRecord
from shared.runs.states import RunState, from_vertex
from shared.runs.trainer_outputs import read_outcome, read_trainer_outputs
from shared.stores.base import RunStore


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


def _job_changes(job: Any, record: RunRecord, wake_up: JobWakeUp) -> RunChanges:
    """What the job says about the attempt: Vertex's state and clock, the cost, why it failed."""
    created, started, ended = _plain(job.create_time), _plain(job.start_time), _plain(job.end_time)
    run_seconds = _seconds_between(started, ended)
    known = {
        "vertex_state": job.state.name,
        "created_at": created,
        "started_at": started,
        "ended_at": ended,
        "wait_seconds": _seconds_between(created, started or ended),
        "run_seconds": run_seconds,
    }
    changes = RunChanges(**{key: value for key, value in known.items() if value is not None})
    changes = changes.merged(cost.attempt_cost(record, run_seconds))
    if job.error and job.error.message:
        failure = failures.classify(job.error.message, wake_up.text, job_state=job.state.name, rpc_code=job.error.code)
        error = RunError(code=job.error.code, message=job.error.message)
        changes = changes.merged(RunChanges(error=error, failure_class=failure.value, hint=failure.hint))
    return changes


def handle_job_wake_up(
    wake_up: JobWakeUp,
    *,
    settings: Settings,
    jobs_for_region: Any,
    store: RunStore,
    storage: Any,
    notifier: Notifier,
    publisher: Publisher,
) -> ReportOutcome:
    record = store.find_by_job_id(wake_up.job_id)
    if record is None:
        return _unknown_job(wake_up, settings, jobs_for_region)
    logs.bind(run_key=record.run_key, correlation_id=record.correlation_id)
    try:
        job = jobs_for_region(record.region).get_custom_job(name=record.job_name)
    except NotFound:
        raise InvalidEvent(f"job {record.job_name} no longer exists") from None
    except Exception as exc:
        raise classify(exc, "reading the job") from exc

    state = from_vertex(job.state.name, job.error.message if job.error else "", job.error.code if job.error else None)
    _require_settled(wake_up, job, state)
    if state is None:
        return ReportOutcome("unchanged", record.run_key, record.state.value)
    changes = _job_changes(job, record, wake_up)
    if state.is_terminal():
        total = cost.run_total(record, changes.estimated_cost_usd, store.attempts(record.run_key))
        changes = changes.merged(RunChanges(total_cost_usd=total))
    if state is RunState.SUCCEEDED:
        # A record with a job was planned, so it names its output directory.
        outputs = read_trainer_outputs(storage, record.output_uri or "")
        # Forecasts first, then the record: a record that says "succeeded" has its predictions stored.
        if outputs.predictions:
            store.replace_predictions(record.run_key, record.attempt, outputs.predictions)
        changes = changes.merged(outputs.changes)
        if outputs.failure is not None:  # the job succeeded; its outputs say the run did not
            state = RunState.FAILED
    if state is RunState.FAILED and job.error and record.output_uri:
        # Vertex says only "exited with a non-zero status of 3"; the trainer's file says why.
        told = read_outcome(storage, record.output_uri)
        if told is not None and told.status == "failed":
            changes = changes.merged(RunChanges(trainer_outcome=told))
    moved = store.advance(record.run_key, record.attempt, state, changes)
    if not moved and _lacks_its_error(record, changes):
        # Terminal already (an earlier read came before the late error): the record still gains its
        # error and failure class, so the fallback decision below sees them; Slack was told once.
        late = RunChanges(error=changes.error, failure_class=changes.failure_class, hint=changes.hint,
                          trainer_outcome=changes.trainer_outcome)  # fmt: skip
        store.update(record.run_key, record.attempt, late)
        logs.info("late job error recorded", failure_class=changes.failure_class)
    logs.info(
        "run state " + ("advanced" if moved else "unchanged"),
        state=state.value,
        vertex_state=job.state.name,
        job_name=record.job_name,
    )

    notified = False
    if state.is_terminal():
        finished = store.get(record.run_key, record.attempt) or record
        # The next attempt is submit-run's to create (it holds the trainer's service account): publish it.
        continue_elsewhere(finished, settings=settings, store=store, publisher=publisher)
        notified = announce_once(store, record.run_key, record.attempt, notifier, storage)
    return ReportOutcome("advanced" if moved else "unchanged", record.run_key, state.value, notified)


# Vertex sets a failed job's error "about one minute after a job ends" (google-facts.md); a job that
# still has none this long after its end will not get one, and is recorded as it is.
ERROR_GRACE_SECONDS = 600


def _require_settled(wake_up: JobWakeUp, job: Any, state: RunState | None) -> None:
    """Ask for redelivery (TransientError: Eventarc backs off and retries) instead of recording a guess.

    The last `service` line of a job ("Job failed.") is its last wake-up, and the read it triggers can
    still see the job running, or failed without its error. Recording that would end the run without
    its failure class (and so without its fallback) for good.
    """
    if wake_up.is_final and (state is None or not state.is_terminal()):
        raise TransientError(f"job {wake_up.job_id} logged its end but reads {job.state.name}: its state comes later")
    if state is RunState.FAILED and not (job.error and job.error.message):
        ended = _plain(job.end_time)
        if ended is None or (datetime.now(timezone.utc) - ended).total_seconds() < ERROR_GRACE_SECONDS:
            raise TransientError(f"job {wake_up.job_id} failed but Vertex has not set its error yet")


def _lacks_its_error(record: RunRecord, changes: RunChanges) -> bool:
    return record.is_terminal and record.failure_class is None and changes.failure_class is not None


def _unknown_job(wake_up: JobWakeUp, settings: Settings, jobs_for_region: Any) -> ReportOutcome:
    """No record for this job: ours but not attached yet (retry), or not ours at all (ignore)."""
    name = f"{settings.vertex_parent}/customJobs/{wake_up.job_id}"
    try:
        job = jobs_for_region(settings.gcp_region).get_custom_job(name=name)
    except NotFound:
        job = None
    except Exception as exc:
        raise classify(exc, "reading an unknown job") from exc
    if job is not None and job.labels.get("flexrun") == "run":
        # The submit function created it and has not recorded it yet (or crashed before it could and
        # its redelivery will): retrying this event later finds the record.
        raise TransientError(f"job {wake_up.job_id} has no run record yet")
    logs.info("job event for a job flexrun did not submit; ignored", job_id=wake_up.job_id)
    return ReportOutcome("ignored")
