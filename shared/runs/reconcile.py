"""Missed events repaired: runs still open after N minutes are read from Vertex AI and brought up to date.

A lost or filtered log entry must not leave a run "running" forever. The reconciler treats each open
run as if its job had just logged something: `handle_job_wake_up` reads the job and advances the
record (and announces a terminal state once), so running it twice, or beside live events, is safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.cloud.publisher import Publisher
from shared.config import logs
from shared.config.settings import Settings
from shared.events.job_logs import JobWakeUp
from shared.notify.slack import Notifier
from shared.runs.job_progress import handle_job_wake_up
from shared.stores.base import RunStore


@dataclass
class ReconcileReport:
    checked: int = 0
    advanced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def reconcile_open_runs(
    *,
    settings: Settings,
    store: RunStore,
    jobs_for_region: Any,
    storage: Any,
    notifier: Notifier,
    publisher: Publisher,
    older_than: timedelta = timedelta(minutes=15),
    now: datetime | None = None,
) -> ReconcileReport:
    """Read the job of every run requested before `now - older_than` and not terminal yet."""
    report = ReconcileReport()
    cutoff = (now or datetime.now(timezone.utc)) - older_than
    for run in store.open_runs(requested_before=cutoff):
        if not run.job_id:
            continue  # no job yet: the submit function's redelivery owns this run
        report.checked += 1
        wake_up = JobWakeUp(job_id=run.job_id, project_id=settings.gcp_project_id, severity="", text="")
        label = run.label
        try:
            outcome = handle_job_wake_up(
                wake_up,
                settings=settings,
                jobs_for_region=jobs_for_region,
                store=store,
                storage=storage,
                notifier=notifier,
                publisher=publisher,
            )
        except Exception as exc:  # noqa: BLE001 — one bad run must not stop the others; the next tick retries it
            report.failed[label] = f"{exc.__class__.__name__}: {exc}"[:300]
            logs.warning("open run not reconciled", run_key=run.run_key, error=report.failed[label])
            continue
        if outcome.action == "advanced":
            report.advanced.append(label)
    logs.notice(
        "open runs reconciled", checked=report.checked, advanced=len(report.advanced), failed=len(report.failed)
    )
    return report
