"""Run message → one Vertex AI CustomJob per attempt, exactly once per (run_key, attempt).

Dedupe key: (run_key, attempt). The claim is a unique insert in the run store; a job already carrying
the run_key and attempt labels (a crash after create, before the record was updated) is adopted, not
duplicated. submit-run is the only creator of jobs: a capacity fallback's next attempt comes as a
continuation message from job-state (shared/runs/continuation.py), or, when Vertex refuses the create
itself for capacity, straight from here; either way attempt + 1 goes through the same claim.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shared.config import logs
from shared.config.settings import Settings
from shared.errors import InvalidRunRequest, PermanentError, TransientError
from shared.events.cloudevents import PubsubMessage
from shared.jobs.api_errors import classify
from shared.jobs.custom_job import RunPlan, build_custom_job
from shared.notify.slack import Notifier
from shared.packages.manifest import Manifest
from shared.polling import PollTimeout, poll
from shared.runs import continuation, failures, quota_plan
from shared.runs.failures import FailureClass
from shared.runs.fallback import Resolved
from shared.runs.plan import make_plan, resolve_package, resolve_steps
from shared.runs.record import RunChanges, RunError, RunRecord, RunSpec
from shared.runs.request import default_run_key, parse_run_request
from shared.runs.states import RunState
from shared.stores.base import RunStore

CLAIM_WAIT_SECONDS = 5.0  # a create on Vertex answers well within this
CLAIM_STALE_SECONDS = 120.0  # a claim this old without a job: its claimant died between claim and create


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


def submit_attempt(
    plan: RunPlan, claim: RunRecord, *, settings: Settings, jobs_for_region: Any, store: RunStore
) -> SubmitOutcome:
    known = store.get(plan.run_key, plan.attempt)  # redeliveries are most messages: one read answers them
    if known and known.job_name:
        logs.info("run already submitted; duplicate message acknowledged", job_name=known.job_name)
        return SubmitOutcome("duplicate", plan.run_key, known.job_name, plan.attempt)
    record, created = store.claim(claim)
    if not created and not record.job_name and not record.is_terminal:
        record = _await_claimant(store, plan, record)
    if record.job_name:
        logs.info("run already submitted; duplicate message acknowledged", job_name=record.job_name)
        return SubmitOutcome("duplicate", plan.run_key, record.job_name, plan.attempt)
    if record.is_terminal:  # refused at create time earlier: only its fallback is left
        return _submit_next(record, settings=settings, jobs_for_region=jobs_for_region, store=store) or SubmitOutcome(
            "duplicate", plan.run_key, "", plan.attempt
        )

    if record.claim_released_at:
        store.update(plan.run_key, plan.attempt, RunChanges(claim_released_at=None))  # this delivery holds it now
    try:
        job, action = _create_or_adopt(plan, record, settings=settings, jobs_for_region=jobs_for_region, store=store)
    except PermanentError:
        raise
    except Exception:
        _release_claim(store, plan)
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


def _create_or_adopt(
    plan: RunPlan, record: RunRecord, *, settings: Settings, jobs_for_region: Any, store: RunStore
) -> tuple[Any, str]:
    """Create the attempt's job (or adopt one a crashed delivery created) and record it."""
    parent = f"projects/{settings.gcp_project_id}/locations/{plan.region}"
    jobs = jobs_for_region(plan.region)
    job = _find_job(jobs, parent, plan.run_key, plan.attempt)
    action = "adopted"
    if job is None:
        try:
            job = jobs.create_custom_job(parent=parent, custom_job=build_custom_job(plan))
        except Exception as exc:
            refused = _refused(exc, plan, record, settings=settings, jobs_for_region=jobs_for_region, store=store)
            return refused, "refused"
        action = "created"
    job_id = job.name.rsplit("/", 1)[-1]
    attached = RunChanges(job_name=job.name, job_id=job_id, created_at=job.create_time or None)
    store.update(plan.run_key, plan.attempt, attached)
    return job, action


def _release_claim(store: RunStore, plan: RunPlan) -> None:
    """A retryable failure after the claim: let this message's redelivery take over at once.

    Without it the redelivery would find the claim, take it for another live delivery's, and wait
    CLAIM_STALE_SECONDS before taking over. The run_key label check still finds a job created before
    the failure, so taking over never duplicates one.
    """
    try:
        store.update(plan.run_key, plan.attempt, RunChanges(claim_released_at=datetime.now(timezone.utc)))
    except Exception as exc:  # the store itself may be what failed: then the stale-claim rule applies
        logs.warning("could not release the claim", attempt=plan.attempt, error=exc.__class__.__name__)


def _await_claimant(store: RunStore, plan: RunPlan, record: RunRecord) -> RunRecord:
    """Another delivery claimed this attempt and is creating its job: wait briefly for the job name.

    Only the claimant creates; a duplicate that raced it must not. If the claim stays without a job,
    the duplicate is retried later (TransientError) until the claim is older than CLAIM_STALE_SECONDS:
    then the claimant is presumed dead and this delivery takes over (the run_key label check still
    finds a job the dead claimant created before it could record it).
    """

    def settled() -> RunRecord | None:
        current = store.get(plan.run_key, plan.attempt) or record
        if current.job_name or current.is_terminal:
            return current
        if current.claim_released_at:
            logs.info("claim released by a failed delivery; taking over", attempt=plan.attempt)
            return current
        return None

    with contextlib.suppress(PollTimeout):
        return poll(settled, timeout=CLAIM_WAIT_SECONDS, what="the claimant's job", interval=0.05)
    claimed_at = record.requested_at
    if claimed_at is not None and (datetime.now(timezone.utc) - claimed_at).total_seconds() < CLAIM_STALE_SECONDS:
        raise TransientError(f"attempt {plan.attempt} of {plan.run_key} is being submitted by another delivery")
    logs.warning("stale claim without a job; taking over", attempt=plan.attempt)
    return record


def _refused(
    exc: Exception, plan: RunPlan, record: RunRecord, *, settings: Settings, jobs_for_region: Any, store: RunStore
) -> SubmitOutcome:
    """Create refused: a capacity refusal (quota, stockout) ends this attempt and falls back; others raise."""
    reason = failures.refusal(exc)
    if reason is not None:
        message = str(getattr(exc, "message", exc))
        failed = RunChanges(error=RunError(message=message), failure_class=reason.value, hint=reason.hint)
        store.advance(plan.run_key, plan.attempt, RunState.FAILED, failed)
        logs.warning("job refused for capacity", attempt=plan.attempt, reason=reason.value, error=message[:500])
        ended = record.with_changes(failed).model_copy(update={"state": RunState.FAILED})
        outcome = _submit_next(ended, settings=settings, jobs_for_region=jobs_for_region, store=store)
        return outcome or SubmitOutcome("ended", plan.run_key, "", plan.attempt)
    error = classify(exc, "creating the job")
    if isinstance(error, PermanentError):
        submit_refused = FailureClass.SUBMIT_REFUSED
        refused = RunChanges(
            error=RunError(message=str(error)), failure_class=submit_refused.value, hint=submit_refused.hint
        )
        store.advance(plan.run_key, plan.attempt, RunState.FAILED, refused)
    raise error from exc


def _submit_next(
    record: RunRecord, *, settings: Settings, jobs_for_region: Any, store: RunStore
) -> SubmitOutcome | None:
    """After an attempt Vertex refused at create for capacity: submit the next step here; None when the run ends.

    Safe to call again for the same record (redelivered messages): the next attempt's claim dedupes.
    """
    decision = continuation.next_attempt(record, settings)
    if decision is None:
        return None
    attempt, step, reason = decision
    continuation.record_decision(store, record, attempt, step, reason)
    logs.notice("capacity fallback", run_key=record.run_key, attempt=attempt, reason=reason, step=step.label)
    return _submit_step(record, attempt, step, reason, settings=settings, jobs_for_region=jobs_for_region, store=store)


def _submit_step(
    record: RunRecord,
    attempt: int,
    step: Resolved,
    reason: str,
    *,
    settings: Settings,
    jobs_for_region: Any,
    store: RunStore,
) -> SubmitOutcome | None:
    """Attempt `attempt` of the run `record` (its previous attempt) belongs to, on `step`."""
    plan = make_plan(record, step, attempt, settings)
    claim = record.next_attempt_record(plan, step.label, reason)
    try:
        return submit_attempt(plan, claim, settings=settings, jobs_for_region=jobs_for_region, store=store)
    except PermanentError as exc:  # the earlier attempt's announcement must still go out
        store.update(record.run_key, attempt - 1, RunChanges(fallback_error=str(exc)[:1000]))
        logs.warning("fallback attempt refused", attempt=attempt, error=str(exc)[:500])
        return None


def handle_continuation(
    message: PubsubMessage, *, settings: Settings, jobs_for_region: Any, store: RunStore
) -> SubmitOutcome:
    """job-state's continuation message → the next attempt, claimed exactly as attempt 1 is.

    The step comes from the stored record of the attempt before, never from the message.
    """
    wanted = continuation.parse_continuation(message)
    logs.bind(run_key=wanted.run_key, correlation_id=wanted.correlation_id)
    previous = store.get(wanted.run_key, wanted.attempt - 1)
    if previous is None:
        raise InvalidRunRequest(f"continuation of {wanted.run_key}: attempt {wanted.attempt - 1} has no record")
    if not previous.is_terminal:
        # job-state records the end before it publishes; a store that lags (a mirror) catches up on retry.
        raise TransientError(f"continuation of {wanted.run_key}: attempt {wanted.attempt - 1} is not finished yet")
    decision = continuation.next_attempt(previous, settings)
    if decision is None or decision[0] != wanted.attempt:
        raise InvalidRunRequest(
            f"continuation of {wanted.run_key} asks for attempt {wanted.attempt}, which its record does not call for",
            reason_code="continuation_refused",
        )
    attempt, step, reason = decision
    outcome = _submit_step(
        previous, attempt, step, reason, settings=settings, jobs_for_region=jobs_for_region, store=store
    )
    return outcome or SubmitOutcome("ended", wanted.run_key, "", attempt)


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
    if continuation.is_continuation(message):
        return handle_continuation(message, settings=settings, jobs_for_region=jobs_for_region, store=store)
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
    package = resolve_package(request, manifest)
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
    return submit_attempt(plan, claim, settings=settings, jobs_for_region=jobs_for_region, store=store)
