"""One Slack message per terminal attempt, whoever saw it end: job-state (a job's end), submit-run (a
create Vertex refused, a run refused for quota) and the reconciler (an end nobody announced).

Dedupe key: (run_key, attempt, terminal state). The store's notification lease decides who posts;
`notified_state` records that the post went out, so a redelivery or a second sender posts nothing.
"""

from __future__ import annotations

from typing import Any

from shared.config import logs
from shared.errors import TransientError
from shared.notify.figures import plain
from shared.notify.run_page import browser_url, write_run_page
from shared.notify.slack import Notifier
from shared.notify.slack_text import run_finished
from shared.runs.record import Prediction, RunChanges, RunRecord
from shared.stores.base import RunStore

LEASE_SECONDS = 30  # Slack's client times out at 10 s: a sender that holds the lease longer has died


def announce_once(store: RunStore, run_key: str, attempt: int, notifier: Notifier, storage: Any = None) -> bool:
    """Post the attempt's terminal state once; False when it is not terminal or was announced already.

    `storage` (where the run page is written) is None for senders of attempts that never ran a job.
    Raises TransientError while another sender holds the lease: acknowledging then would lose the
    message if that sender died mid-post; the retry finds it sent, or takes the expired lease.
    """
    current = store.get(run_key, attempt)
    if current is None or not current.is_terminal or current.announced:
        return False
    terminal = current.state
    if not store.claim_notification(run_key, attempt, terminal, lease_seconds=LEASE_SECONDS):
        raise TransientError(f"the {terminal.value} announcement of {run_key} is held by another delivery")
    try:
        rows = [row for row in store.predictions(run_key) if row.attempt == attempt] if current.job_name else []
        report_url = _run_page(storage, store, current, rows) if storage is not None else None
        notifier.send(run_finished(current, predictions=rows, report_url=report_url))
    except Exception:
        store.finish_notification(run_key, attempt, terminal, sent=False)
        raise
    store.finish_notification(run_key, attempt, terminal, sent=True)
    logs.notice("run announced", run_key=run_key, attempt=attempt, state=terminal.value)
    return True


def _run_page(storage: Any, store: RunStore, record: RunRecord, rows: list[Prediction]) -> str | None:
    """The run's page next to its artifacts, recorded as `report_uri`; its browser URL for Slack.

    Best effort: the page is a convenience, so a storage failure costs the link, never the announcement.
    """
    try:
        uri = write_run_page(storage, plain(record), [plain(row) for row in rows])
    except Exception as exc:  # any storage failure: the message goes out without the link
        logs.warning("run page not written", error=exc.__class__.__name__)
        return None
    if uri is None:
        return None
    store.update(record.run_key, record.attempt, RunChanges(report_uri=uri))
    return browser_url(uri)
