"""The reconciler: what no event will ever tell us, found on a schedule and brought up to date.

Deployed as its own function (functions/reconcile_runs.py) on the reconcile-requests topic, ticked by
Cloud Scheduler. Two kinds of silence end runs only here:
- A job that ends without a `service` log line: Google shows none for a job cancelled while pending,
  a FLEX_START max-wait expiry or a job held in JOB_STATE_QUEUED for quota (google-facts.md), and a
  sink can drop lines. Each open run is treated as if its job had just logged something: the job is
  read and the record advanced (shared/runs/job_progress.py), announced once.
- A capacity fallback whose continuation message was lost: the finished attempt names its
  `next_attempt`, which has no record. The continuation is published again; submit-run's claim
  dedupes it if the first one was only late.
- An attempt claimed but never given a job (`requested`, no job: its message's deliveries failed until
  it aged out, or its claimant died): its claim is released and a resubmission published for
  submit-run (shared/runs/resubmission.py), which adopts a job the claimant made or creates it.
- A terminal attempt nobody announced (refused at create by a submit-run that died before posting,
  an event that aged out between the record and the post): its fallback decision is made if it was
  not, then it is announced once (shared/runs/announce.py).
Running it twice, or beside live events, is safe: every step is idempotent, and a second tick finds
nothing left to do (a released claim younger than the threshold is the resubmission's to finish).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.cloud.publisher import Publisher
from shared.config import logs
from shared.config.settings import Settings
from shared.events.cloudevents import CloudEventLike, parse_pubsub_message
from shared.events.handling import run_handler
from shared.events.job_logs import JobWakeUp
from shared.notify.slack import Notifier
from shared.runs import resubmission
from shared.runs.announce import announce_once
from shared.runs.continuation import continue_elsewhere
from shared.runs.job_progress import handle_job_wake_up
from shared.runs.record import RunChanges, RunRecord
from shared.stores.base import RunStore

# How far back a lost continuation is looked for: longer than Pub/Sub keeps an undelivered message.
FALLBACK_LOOKBACK = timedelta(days=2)


@dataclass
class ReconcileReport:
    checked: int = 0
    advanced: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # fallbacks whose next attempt was published again
    resubmitted: list[str] = field(default_factory=list)  # attempts without a job handed back to submit-run
    announced: list[str] = field(default_factory=list)  # terminal attempts nobody had announced
    failed: dict[str, str] = field(default_factory=dict)


def handle_reconcile_request(
    event: CloudEventLike,
    *,
    settings: Settings,
    store: RunStore,
    jobs_for_region: Any,
    storage: Any,
    notifier: Notifier,
    publisher: Publisher,
) -> ReconcileReport | None:
    """The reconciler function without its wiring: a Cloud Scheduler tick (its body says nothing we need)."""

    def core() -> ReconcileReport:
        parse_pubsub_message(event)  # a malformed delivery is refused like any other
        return reconcile_open_runs(
            settings=settings,
            store=store,
            jobs_for_region=jobs_for_region,
            storage=storage,
            notifier=notifier,
            publisher=publisher,
            older_than=timedelta(seconds=settings.flexrun_reconcile_after),
        )

    return run_handler("reconcile-runs", event, core, max_event_age_seconds=settings.flexrun_max_event_age)


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
    """Read the job of every run requested before `now - older_than` and not terminal yet; then resume
    the fallbacks, finished before the same cutoff, whose next attempt never arrived."""
    report = ReconcileReport()
    moment = now or datetime.now(timezone.utc)
    cutoff = moment - older_than
    for run in store.open_runs(requested_before=cutoff):
        if not run.job_id:
            _resubmit(report, run, store=store, publisher=publisher, cutoff=cutoff, now=moment)
            continue
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
    _resume_fallbacks(report, settings=settings, store=store, publisher=publisher, cutoff=cutoff, now=moment)
    _announce_unannounced(report, settings=settings, store=store, publisher=publisher, notifier=notifier,
                          storage=storage, cutoff=cutoff, now=moment)  # fmt: skip
    logs.notice(
        "open runs reconciled",
        checked=report.checked,
        advanced=len(report.advanced),
        resumed=len(report.resumed),
        resubmitted=len(report.resubmitted),
        announced=len(report.announced),
        failed=len(report.failed),
    )
    return report


def _resume_fallbacks(
    report: ReconcileReport, *, settings: Settings, store: RunStore, publisher: Publisher, cutoff: datetime,
    now: datetime,
) -> None:  # fmt: skip
    for finished in store.fallbacks_since(now - FALLBACK_LOOKBACK):
        if finished.fallback_error or finished.next_attempt is None:
            continue  # submit-run refused the next attempt for good: nothing to resume
        if finished.updated_at is not None and finished.updated_at > cutoff:
            continue  # its continuation may still be on its way
        next_attempt = finished.next_attempt
        label = f"{finished.run_key}#{next_attempt}"
        try:
            if store.get(finished.run_key, next_attempt) is not None:
                continue
            if continue_elsewhere(finished, settings=settings, store=store, publisher=publisher):
                report.resumed.append(label)
                logs.warning("lost continuation published again", run_key=finished.run_key, attempt=next_attempt)
        except Exception as exc:  # noqa: BLE001 — as above: the next tick retries it
            report.failed[label] = f"{exc.__class__.__name__}: {exc}"[:300]


def _resubmit(
    report: ReconcileReport, run: RunRecord, *, store: RunStore, publisher: Publisher, cutoff: datetime, now: datetime
) -> None:
    """An attempt claimed long ago and still without a job: release its claim, hand it back to submit-run.

    Releasing first lets the resubmission take over at once instead of waiting out the stale-claim
    window; its time also marks the hand-off, so the next tick leaves the attempt to it until the
    threshold passes again.
    """
    if run.claim_released_at is not None and run.claim_released_at > cutoff:
        return  # released recently (a failed delivery, or this reconciler): that retry owns it
    try:
        store.update(run.run_key, run.attempt, RunChanges(claim_released_at=now))
        resubmission.publish(publisher, run)
    except Exception as exc:  # noqa: BLE001 — as above: the next tick retries it
        report.failed[run.label] = f"{exc.__class__.__name__}: {exc}"[:300]
        return
    report.resubmitted.append(run.label)
    logs.warning("attempt without a job handed back to submit-run", run_key=run.run_key, attempt=run.attempt)


def _announce_unannounced(
    report: ReconcileReport, *, settings: Settings, store: RunStore, publisher: Publisher, notifier: Notifier,
    storage: Any, cutoff: datetime, now: datetime,
) -> None:  # fmt: skip
    for ended in store.unannounced_since(now - FALLBACK_LOOKBACK):  # claimed before that: history
        if ended.updated_at is not None and ended.updated_at > cutoff:
            continue  # whoever ended it may still be announcing it
        try:
            if ended.next_attempt is None:  # the decision first, so the message says what follows
                continue_elsewhere(ended, settings=settings, store=store, publisher=publisher)
            if announce_once(store, ended.run_key, ended.attempt, notifier, storage):
                report.announced.append(ended.label)
                logs.warning("unannounced end announced", run_key=ended.run_key, attempt=ended.attempt)
        except Exception as exc:  # noqa: BLE001 — as above: the next tick retries it
            report.failed[ended.label] = f"{exc.__class__.__name__}: {exc}"[:300]
