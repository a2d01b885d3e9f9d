"""Run message → one Vertex AI CustomJob per attempt, exactly once per (run_key, attempt).

Dedupe key: (run_key, attempt). The claim is a unique insert in the run store; a job already carrying
the run_key and attempt labels (a crash after create, before the record was updated) is adopted, not
duplicated. submit-run is the only creator of jobs: a capacity fallback's next attempt comes as a
continuation message from job-state (shared/runs/continuation.py), or, when Vertex refuses the create
itself for capacity, straight from here; either way attempt + 1 goes through the same claim.
An attempt that ends here (refused at create) is announced here, once: no job will ever log its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.config import logs
from shared.config.settings import Settings
from shared.errors import InvalidRunRequest, PermanentError, TransientError
from shared.events.cloudevents import PubsubMessage
from shared.jobs.api_errors import classify
from shared.jobs.custom_job import RunPlan, build_custom_job
from shared.packages.manifest import Manifest
from shared.runs import continuation, failures, quota_plan, resubmission
from shared.runs.claims import await_claimant, release_claim
from shared.runs.failures import FailureClass
from shared.runs.fallback import Resolved
from shared.runs.plan import make_plan, resolve_package, resolve_steps
from shared.runs.record import RunChanges, RunError, RunRecord, RunSpec
from shared.runs.request import default_run_key, parse_run_request
from shared.runs.states import RunState
from shared.stores.base import RunStore

if TYPE_CHECKING:
    from shared.notify.slack import Notifier


@dataclass(frozen=True)
class Clients:
    """What one delivery submits with: the settings, Vertex per region, the run store and Slack."""

    settings: Settings
    jobs_for_region: Any
    store: RunStore
    notifier: Notifier | None = None  # None: nothing is announced from here (benchmarks)


@dataclass(frozen=True)
class SubmitOutcome:
    action: str  # "created" | "adopted" | "duplicate" | "ended"
    run_key: str
    job_name: str
    attempt: int = 1


def _find_job(jobs: Any, parent: str, run_key: str, attempt: int) -> Any | None:
    try:
        found = jobs.list_custom_jobs(
            request={"parent": parent, "filter": f'labels.run_key="{run_key}" AND labels.attempt="{attempt}"'}
        )
        return next(iter(found), None)
    except Exception as exc:
        raise classify(exc, "listing jobs") from exc


def submit_attempt(plan: RunPlan, claim: RunRecord, clients: Clients) -> SubmitOutcome:
    store = clients.store
    known = store.get(plan.run_key, plan.attempt)  # redeliveries are most messages: one read answers them
    if known and known.job_name:
        logs.info("run already submitted; duplicate message acknowledged", job_name=known.job_name)
        return SubmitOutcome("duplicate", plan.run_key, known.job_name, plan.attempt)
    record, created = store.claim(claim)
    if not created and not record.job_name and not record.is_terminal:
        record = await_claimant(store, plan, record)
    if record.job_name:
        logs.info("run already submitted; duplicate message acknowledged", job_name=record.job_name)
        return SubmitOutcome("duplicate", plan.run_key, record.job_name, plan.attempt)
    if record.is_terminal:  # refused at create time earlier: only its announcement and fallback are left
        return _after_refusal(record, clients) or SubmitOutcome("duplicate", plan.run_key, "", plan.attempt)

    if record.claim_released_at:
        store.update(plan.run_key, plan.attempt, RunChanges(claim_released_at=None))  # this delivery holds it now
    try:
        job, action = _create_or_adopt(plan, record, clients)
    except PermanentError:
        raise
    except Exception:
        release_claim(store, plan)
        raise
    if isinstance(job, SubmitOutcome):  # refused for capacity: the fallback decided what happens
        return job
    store.advance(plan.run_key, plan.attempt, RunState.QUEUED)
    logs.notice(
        f"job {action}",
        job_name=job.name,
        attempt=plan.attempt,
        step=claim.step_label,
        package_version=plan.package_version,
        claimed_now=created,
    )
    return SubmitOutcome(action, plan.run_key, job.name, plan.attempt)


def _create_or_adopt(plan: RunPlan, record: RunRecord, clients: Clients) -> tuple[Any, str]:
    """Create the attempt's job (or adopt one a crashed delivery created) and record it."""
    parent = f"projects/{clients.settings.gcp_project_id}/locations/{plan.region}"
    jobs = clients.jobs_for_region(plan.region)
    job = _find_job(jobs, parent, plan.run_key, plan.attempt)
    action = "adopted"
    if job is None:
        try:
            job = jobs.create_custom_job(parent=parent, custom_job=build_custom_job(plan))
        except Exception as exc:
            return _refused(exc, plan, record, clients), "refused"
        action = "created"
    job_id = job.name.rsplit("/", 1)[-1]
    attached = RunChanges(job_name=job.name, job_id=job_id, created_at=job.create_time or None)
    clients.store.update(plan.run_key, plan.attempt, attached)
    return job, action


def _refused(exc: Exception, plan: RunPlan, record: RunRecord, clients: Clients) -> SubmitOutcome:
    """Create refused: a capacity refusal (quota, stockout) ends this attempt and falls back; others raise.

    Either way an attempt recorded failed here is announced once (shared/runs/announce.py), as job-state
    announces one whose job ended: no log line will ever wake job-state for a job that was never created.
    """
    reason = failures.refusal(exc)
    if reason is not None:
        message = str(getattr(exc, "message", exc))
        failed = RunChanges(error=RunError(message=message), failure_class=reason.value, hint=reason.hint)
        clients.store.advance(plan.run_key, plan.attempt, RunState.FAILED, failed)
        logs.warning("job refused for capacity", attempt=plan.attempt, reason=reason.value, error=message[:500])
        ended = record.with_changes(failed).model_copy(update={"state": RunState.FAILED})
        return _after_refusal(ended, clients) or SubmitOutcome("ended", plan.run_key, "", plan.attempt)
    error = classify(exc, "creating the job")
    if isinstance(error, PermanentError):
        submit_refused = FailureClass.SUBMIT_REFUSED
        refused = RunChanges(
            error=RunError(message=str(error)), failure_class=submit_refused.value, hint=submit_refused.hint
        )
        clients.store.advance(plan.run_key, plan.attempt, RunState.FAILED, refused)
        if (unsent := _announce(clients, plan.run_key, plan.attempt)) is not None:
            raise unsent from exc  # retried: the redelivery finds the attempt ended and announces it
    raise error from exc


def _after_refusal(record: RunRecord, clients: Clients) -> SubmitOutcome | None:
    """An attempt Vertex refused at create: record its fallback, announce it, then submit its next step
    here; None when the run ends with it.

    The decision comes before the announcement, so Slack says what really follows. A failed post does
    not hold the next step back: it goes ahead, and then this delivery is retried for the announcement
    (the next attempt's claim dedupes the rest). Safe to call again for the same record.
    """
    decision = continuation.next_attempt(record, clients.settings)
    if decision is not None:
        continuation.record_decision(clients.store, record, *decision)
    unsent = _announce(clients, record.run_key, record.attempt)
    outcome = None
    if decision is not None:
        attempt, step, reason = decision
        logs.notice("capacity fallback", run_key=record.run_key, attempt=attempt, reason=reason, step=step.label)
        outcome = _submit_step(record, attempt, step, reason, clients)
    if unsent is not None:
        raise unsent
    return outcome


def _announce(clients: Clients, run_key: str, attempt: int) -> TransientError | None:
    """Announce a terminal attempt; the error to raise later when the post could not go out now."""
    if clients.notifier is None:
        return None
    # Imported here: only an attempt that ends without a job is announced from submit-run, and the
    # Slack text and run page modules are not worth a cold start's milliseconds on the usual event.
    from shared.runs.announce import announce_once

    try:
        announce_once(clients.store, run_key, attempt, clients.notifier)
    except Exception as exc:  # noqa: BLE001 — Slack or the store is down: the caller decides when to retry
        logs.warning("announcement not sent; retried", attempt=attempt, error=exc.__class__.__name__)
        return TransientError(f"the announcement of {run_key}#{attempt} is not sent yet: {exc.__class__.__name__}")
    return None


def _submit_step(
    record: RunRecord, attempt: int, step: Resolved, reason: str, clients: Clients
) -> SubmitOutcome | None:
    """Attempt `attempt` of the run `record` (its previous attempt) belongs to, on `step`."""
    plan = make_plan(record, step, attempt, clients.settings)
    claim = record.next_attempt_record(plan, step.label, reason)
    try:
        return submit_attempt(plan, claim, clients)
    except PermanentError as exc:  # the earlier attempt's announcement must still go out
        clients.store.update(record.run_key, attempt - 1, RunChanges(fallback_error=str(exc)[:1000]))
        logs.warning("fallback attempt refused", attempt=attempt, error=str(exc)[:500])
        return None


def handle_continuation(message: PubsubMessage, clients: Clients) -> SubmitOutcome:
    """job-state's continuation message → the next attempt, claimed exactly as attempt 1 is.

    The step comes from the stored record of the attempt before, never from the message.
    """
    wanted = continuation.parse_continuation(message)
    logs.bind(run_key=wanted.run_key, correlation_id=wanted.correlation_id)
    previous = clients.store.get(wanted.run_key, wanted.attempt - 1)
    if previous is None:
        raise InvalidRunRequest(f"continuation of {wanted.run_key}: attempt {wanted.attempt - 1} has no record")
    if not previous.is_terminal:
        # job-state records the end before it publishes; a store that lags (a mirror) catches up on retry.
        raise TransientError(f"continuation of {wanted.run_key}: attempt {wanted.attempt - 1} is not finished yet")
    decision = continuation.next_attempt(previous, clients.settings)
    if decision is None or decision[0] != wanted.attempt:
        raise InvalidRunRequest(
            f"continuation of {wanted.run_key} asks for attempt {wanted.attempt}, which its record does not call for",
            reason_code="continuation_refused",
        )
    attempt, step, reason = decision
    outcome = _submit_step(previous, attempt, step, reason, clients)
    return outcome or SubmitOutcome("ended", wanted.run_key, "", attempt)


def handle_resubmission(message: PubsubMessage, clients: Clients) -> SubmitOutcome:
    """The reconciler's resubmission → the attempt's job, from its stored record (shared/runs/resubmission.py)."""
    wanted = resubmission.parse_resubmission(message)
    logs.bind(run_key=wanted.run_key, correlation_id=wanted.correlation_id)
    record = clients.store.get(wanted.run_key, wanted.attempt)
    if record is None:
        raise InvalidRunRequest(f"resubmission of {wanted.run_key}#{wanted.attempt}: the attempt has no record")
    if record.job_name:
        return SubmitOutcome("duplicate", record.run_key, record.job_name, record.attempt)
    plan = make_plan(record, resubmission.claimed_step(record), record.attempt, clients.settings)
    return submit_attempt(plan, record, clients)


def handle_run_request(
    message: PubsubMessage,
    *,
    settings: Settings,
    manifest: Manifest,
    jobs_for_region: Any,
    store: RunStore,
    quota_snapshot: quota_plan.SnapshotReader | None = None,
    notifier: Notifier | None = None,
) -> SubmitOutcome:
    clients = Clients(settings, jobs_for_region, store, notifier)
    if continuation.is_continuation(message):
        return handle_continuation(message, clients)
    if resubmission.is_resubmission(message):
        return handle_resubmission(message, clients)
    request = parse_run_request(message)
    run_key = request.run_key or default_run_key(message)
    # Redeliveries are most messages (at-least-once Pub/Sub, Eventarc retries): one read answers them
    # before the manifest lookup, the quota gate and the plan, which a submitted run no longer needs.
    # submit_attempt reads again after planning, so a run without a job yet takes the full path.
    known = store.get(run_key, 1)
    if known and known.job_name:
        logs.bind(run_key=run_key)
        logs.info("run already submitted; duplicate message acknowledged", job_name=known.job_name)
        return SubmitOutcome("duplicate", run_key, known.job_name, 1)
    package = resolve_package(
        request, manifest, published_at=message.publish_time, wait_seconds=settings.flexrun_validation_wait
    )
    chain = resolve_steps(request, settings)
    steps, skipped = quota_plan.runnable_steps(chain, quota_snapshot, settings, request.replicas)
    spec = RunSpec(
        run_key=run_key,
        package_uri=package.uri,
        package_version=package.version,
        package_sha256=package.sha256,
        package_module=package.entry_module or settings.flexrun_trainer_module,
        timeout_seconds=request.timeout or settings.vertex_ai_timeout,
        replicas=request.replicas,
        correlation_id=message.attributes.get("correlation_id") or message.message_id or run_key,
        args=list(request.args),
        env=dict(request.env),
        requested_by=request.requested_by or message.attributes.get("requested_by"),
        reason=request.reason,
        published_at=message.publish_time,
        trigger="schedule" if message.attributes.get("schedule") else "message",
        chain=steps,
        # On every attempt's record (RunSpec), so the run's announcement lists them.
        skipped_steps=quota_plan.skipped_field(skipped),
    )
    logs.bind(run_key=run_key, correlation_id=spec.correlation_id)
    if not steps:  # every step blocked by quota: refused before any job, with the list
        if quota_plan.refuse_run(spec, chain[0], skipped, store=store, notifier=notifier):
            return SubmitOutcome("refused", run_key, "", 1)
        known = store.get(run_key, 1)
        return SubmitOutcome("duplicate", run_key, (known.job_name if known else None) or "", 1)
    plan = make_plan(spec, steps[0], 1, settings)
    claim = RunRecord.for_plan(spec, plan, steps[0].label)
    return submit_attempt(plan, claim, clients)
