"""Quota-aware planning for submit-run: drop the chain's steps the quota snapshot says can never run.

The skipped steps are recorded on every attempt (`skipped_steps`, each with its reason and the quota
request page) and the run's Slack message lists them. A chain with no step left is refused before any
job is created: attempt 1 is recorded `failed` (quota_exceeded) with the list, and announced once.
What counts as blocked, and why a missing or stale snapshot blocks nothing: shared/quotas/gate.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.config import logs
from shared.config.settings import Settings
from shared.quotas.gate import Blocked, split_runnable, usable_snapshot
from shared.quotas.snapshot import QuotaSnapshot
from shared.runs import fallback
from shared.runs.failures import FailureClass
from shared.runs.record import RunChanges, RunError, RunRecord, RunSpec, SkippedStep
from shared.runs.states import RunState
from shared.stores.base import RunStore

if TYPE_CHECKING:
    from shared.notify.slack import Notifier

SnapshotReader = Callable[[], QuotaSnapshot | None]


def runnable_steps(
    steps: list[Any], read: SnapshotReader | None, settings: Settings, replicas: int = 1
) -> tuple[list[Any], list[Blocked]]:
    """(the steps to attempt, in order; the skipped ones). Reading the snapshot never fails a run."""
    try:
        snapshot = read() if read is not None else None
    except Exception as exc:  # noqa: BLE001 — planning without the snapshot is the documented fallback
        logs.warning("quota snapshot not read; planning without it", error=exc.__class__.__name__)
        snapshot = None
    usable = usable_snapshot(snapshot, settings.flexrun_quota_snapshot_max_age)
    runnable, skipped = split_runnable(steps, usable, replicas)
    for blocked in skipped:
        logs.notice("fallback step skipped for quota", step=blocked.step_label, reason=blocked.reason)
    return runnable, skipped


def skipped_field(skipped: list[Blocked]) -> list[SkippedStep]:
    return [SkippedStep.model_validate(blocked.as_dict()) for blocked in skipped]


def refuse_run(
    spec: RunSpec, first: fallback.Resolved, skipped: list[Blocked], *, store: RunStore, notifier: Notifier | None
) -> bool:
    """Record attempt 1 as refused for quota and announce it once; False when the run already had a job."""
    run_key = spec.run_key
    message = "No step of the fallback chain can run: " + "; ".join(blocked.line for blocked in skipped)
    claim = RunRecord(
        **{**{name: getattr(spec, name) for name in RunSpec.model_fields}, "chain": []},
        step_label=first.label,
        gpu_type=first.gpu_type,
        gpu_count=first.gpu_count,
        machine_type=first.machine_type,
        region=first.region,
        strategy=first.strategy,
        max_wait_seconds=first.max_wait,
    )
    record, created = store.claim(claim)
    if not created and (record.job_name or record.chain):
        return False  # planned earlier with quota to spare: that attempt stands
    if not record.is_terminal:
        hint = "Request the quota (links above), or add a step with quota to the fallback chain."
        failure = RunChanges(
            error=RunError(message=message), failure_class=FailureClass.QUOTA_EXCEEDED.value, hint=hint
        )
        store.advance(run_key, 1, RunState.FAILED, failure)
    logs.warning("run refused: no step of its chain has quota", steps=len(skipped))
    if notifier is not None:
        from shared.runs.announce import announce_once  # only a refused run is announced from here

        announce_once(store, run_key, 1, notifier)
    return True
