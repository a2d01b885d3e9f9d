"""A capacity fallback's next attempt, as a message: job-state decides, submit-run creates.

Only submit-run creates Vertex jobs (it runs with VERTEX_AI_SERVICE_ACCOUNT and the actAs grant on
the trainer's account; job-state has neither). When an attempt ends for capacity, job-state records
the decision on the finished attempt (`next_attempt`, `fallback_reason`) and publishes a continuation
message to the run-requests topic; submit-run claims attempt N+1 exactly as it claims attempt 1.

The message says only which run and which attempt; submit-run recomputes the step from the stored
record of attempt N, so a duplicate, late or forged continuation can create nothing the record does
not call for. A lost message is republished by the reconciler (shared/runs/reconcile.py), which finds
attempts whose `next_attempt` has no record.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.cloud.publisher import Publisher
from shared.config import logs
from shared.config.settings import Settings
from shared.events.cloudevents import PubsubMessage
from shared.runs import fallback, internal_messages
from shared.runs.record import RunChanges, RunRecord
from shared.runs.states import RunState
from shared.stores.base import RunStore

KIND = "continuation"
SCHEMA_VERSION = 1


class Continuation(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    schema_version: int = SCHEMA_VERSION
    run_key: str = Field(min_length=1, max_length=63)
    attempt: int = Field(ge=2, le=10)
    reason: str = Field(min_length=1, max_length=64)
    correlation_id: str | None = Field(None, max_length=256)


def is_continuation(message: PubsubMessage) -> bool:
    return internal_messages.is_kind(message, KIND)


def parse_continuation(message: PubsubMessage) -> Continuation:
    return internal_messages.parse(message, Continuation, KIND)


def retry_policy(settings: Settings) -> tuple[frozenset[str], int]:
    retry_on = frozenset(filter(None, (c.strip() for c in settings.flexrun_fallback_on.split(","))))
    return retry_on, settings.flexrun_fallback_max_attempts


def next_attempt(record: RunRecord, settings: Settings) -> tuple[int, fallback.Resolved, str] | None:
    """(next attempt, its step, why) when this finished attempt falls back; None when the run ends."""
    retry_on, max_attempts = retry_policy(settings)
    return fallback.next_step(record, retry_on, max_attempts)


def fallback_note(attempt: int, step: fallback.Resolved, reason: str) -> str:
    return f"Fell back to attempt {attempt}: {step.label} (attempt {attempt - 1} ended: {reason})."


def what_next(record: RunRecord) -> str | None:
    """What really happens after this attempt, in words (Slack, `run --wait`); None while it runs or once it
    succeeded. Read after the fallback decision is recorded: `next_attempt` is that decision."""
    if not record.is_terminal or record.state is RunState.SUCCEEDED:
        return None
    following = record.next_attempt
    if following and record.fallback_error:
        return f"Attempt {following} was refused ({record.fallback_error[:200]}): the run failed."
    if following:
        step = record.chain[following - 1].label if following <= len(record.chain) else "the chain's next step"
        return f"Attempt {following} runs on the fallback chain's next step: {step}."
    if record.state is RunState.CANCELLED:
        return "The run was cancelled: no further step is tried."
    failure = fallback.capacity_failure(record.state.value, record.failure_class, record.error)
    if failure is not None and record.attempt >= len(record.chain):
        return "No step of the fallback chain is left: the run failed."
    if failure is not None:
        policy = "FLEXRUN_FALLBACK_ON, FLEXRUN_FALLBACK_MAX_ATTEMPTS"
        return f"The fallback policy ({policy}) tries no further step: the run failed."
    reason = record.failure_class or "failure"
    return f"The run failed: a {reason} is not something another step of the chain can fix."


def record_decision(store: RunStore, record: RunRecord, attempt: int, step: fallback.Resolved, reason: str) -> None:
    """On the finished attempt: which attempt comes next and why (read by Slack, the CLI, the reconciler)."""
    decision = RunChanges(fallback_reason=reason, next_attempt=attempt, hint=fallback_note(attempt, step, reason))
    if record.with_changes(decision) != record:
        store.update(record.run_key, attempt - 1, decision)


def continue_elsewhere(record: RunRecord, *, settings: Settings, store: RunStore, publisher: Publisher) -> int | None:
    """After a terminal attempt: record the fallback and publish the next attempt for submit-run.

    Safe to call again (redelivered events, the reconciler): submit-run's claim dedupes the attempt.
    Returns the next attempt, or None when the run ends here.
    """
    decision = next_attempt(record, settings)
    if decision is None:
        return None
    attempt, step, reason = decision
    record_decision(store, record, attempt, step, reason)
    publish(publisher, Continuation(run_key=record.run_key, attempt=attempt, reason=reason,
                                    correlation_id=record.correlation_id))  # fmt: skip
    logs.notice("capacity fallback requested", run_key=record.run_key, attempt=attempt, reason=reason,
                step=step.label)  # fmt: skip
    return attempt


def publish(publisher: Publisher, continuation: Continuation) -> str:
    return internal_messages.publish(publisher, KIND, continuation)
