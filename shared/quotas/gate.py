"""Which steps of a run's chain the quota snapshot says can never run, and why.

Only a *known* limit below the step's GPU count blocks it. A missing snapshot, one older than
FLEXRUN_QUOTA_SNAPSHOT_MAX_AGE, or a metric/region it does not list blocks nothing: the snapshot is
advice, Vertex itself still refuses a job over quota (HTTP 429, which the fallback chain already
handles), and refusing a run on stale data could waste a night after a quota was granted. The limit is
what "can ever run" needs; usage by other jobs is left to Vertex's own queueing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.config import logs
from shared.quotas.metrics import quota_need
from shared.quotas.snapshot import QuotaSnapshot


@dataclass(frozen=True)
class Blocked:
    """A step the quota cannot cover: its label, why, and where to ask for more."""

    step_label: str
    gpu: str  # `L4`
    region: str
    reason: str  # `preemptible L4 quota 0`
    request_url: str

    @property
    def line(self) -> str:
        """`skipped L4 @ us-east4: preemptible L4 quota 0 — request it at https://...`."""
        return f"skipped {self.gpu} @ {self.region}: {self.reason} — request it at {self.request_url}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step_label,
            "region": self.region,
            "reason": self.reason,
            "request_url": self.request_url,
            "line": self.line,
        }


def blocked_by_quota(step: Any, snapshot: QuotaSnapshot | None, replicas: int = 1) -> Blocked | None:
    """`step` is a fallback.Resolved run on `replicas` machines; None when it may run (or nothing is known)."""
    if snapshot is None:
        return None
    need = quota_need(step.gpu_type, step.gpu_count * replicas, step.region, step.strategy)
    if need is None:
        return None
    limit = snapshot.limit(need.metric, need.region)
    if limit is None or limit < 0 or limit >= need.count:  # -1 is "unlimited" in Cloud Quotas
        return None
    reason = f"{need.kind} {need.short_gpu} quota {limit}" + (f" < {need.count} GPUs" if limit else "")
    return Blocked(step.label, need.short_gpu, need.region, reason, need.request_url(snapshot.project))


def usable_snapshot(
    snapshot: QuotaSnapshot | None, max_age_seconds: int, now: datetime | None = None
) -> QuotaSnapshot | None:
    """The snapshot if it is fresh enough to plan with; a stale one is ignored, with a warning."""
    if snapshot is None:
        return None
    age = snapshot.age_seconds(now)
    if age > max_age_seconds:
        logs.warning("quota snapshot too old; planning without it", age_seconds=round(age), max_age=max_age_seconds)
        return None
    return snapshot


def split_runnable(
    steps: list[Any], snapshot: QuotaSnapshot | None, replicas: int = 1
) -> tuple[list[Any], list[Blocked]]:
    """(the steps that may run, in order; the ones skipped, with why). Every replica holds the step's GPUs."""
    runnable: list[Any] = []
    skipped: list[Blocked] = []
    for step in steps:
        blocked = blocked_by_quota(step, snapshot, replicas)
        if blocked is None:
            runnable.append(step)
        else:
            skipped.append(blocked)
    return runnable, skipped
