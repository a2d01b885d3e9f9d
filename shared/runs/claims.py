"""The claim of one attempt in the run store, and what a second delivery of the same attempt does with it.

The claim is a unique insert on (run_key, attempt) (submit-run's dedupe key). Only its claimant creates
the attempt's job; a duplicate that raced it waits briefly, then is retried, until the claim is stale
or released by a delivery that failed after claiming.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone

from shared.config import logs
from shared.errors import TransientError
from shared.jobs.custom_job import RunPlan
from shared.polling import PollTimeout, poll
from shared.runs.record import RunChanges, RunRecord
from shared.stores.base import RunStore

CLAIM_WAIT_SECONDS = 5.0  # a create on Vertex answers well within this
CLAIM_STALE_SECONDS = 120.0  # a claim this old without a job: its claimant died between claim and create


def release_claim(store: RunStore, plan: RunPlan) -> None:
    """A retryable failure after the claim: let this message's redelivery take over at once.

    Without it the redelivery would find the claim, take it for another live delivery's, and wait
    CLAIM_STALE_SECONDS before taking over. The run_key label check still finds a job created before
    the failure, so taking over never duplicates one.
    """
    try:
        store.update(plan.run_key, plan.attempt, RunChanges(claim_released_at=datetime.now(timezone.utc)))
    except Exception as exc:  # the store itself may be what failed: then the stale-claim rule applies
        logs.warning("could not release the claim", attempt=plan.attempt, error=exc.__class__.__name__)


def await_claimant(store: RunStore, plan: RunPlan, record: RunRecord) -> RunRecord:
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
