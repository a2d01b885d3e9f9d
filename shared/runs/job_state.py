"""Job-state event → the job it names read from Vertex → its run advanced (shared/runs/job_progress.py).

The function's own part is the event: parse the log entry the sink forwarded, ignore what is not a
Vertex job `service` line, and let shared/events/handling.py decide retry vs acknowledge.
"""

from __future__ import annotations

from typing import Any

from shared.cloud.publisher import Publisher
from shared.config import logs
from shared.config.settings import Settings
from shared.events.cloudevents import CloudEventLike, parse_pubsub_message
from shared.events.handling import run_handler
from shared.events.job_logs import parse_job_log_entry
from shared.notify.slack import Notifier
from shared.runs.job_progress import ReportOutcome, handle_job_wake_up
from shared.stores.base import RunStore

__all__ = ["ReportOutcome", "handle_job_event"]


def handle_job_event(
    event: CloudEventLike,
    *,
    settings: Settings,
    jobs_for_region: Any,
    store: RunStore,
    storage: Any,
    notifier: Notifier,
    publisher: Publisher,
) -> ReportOutcome | None:
    """The job-state function without its wiring: a log-entry CloudEvent in, the run advanced.

    Bad events are acknowledged and recorded (run_handler); store, Vertex or Slack outages raise, so
    the trigger redelivers the event and the retry finishes what this one could not.
    """

    def core() -> ReportOutcome:
        wake_up = parse_job_log_entry(parse_pubsub_message(event))
        if wake_up is None:
            logs.debug("log entry is not a Vertex job service entry; ignored")
            return ReportOutcome("ignored")
        logs.bind(job_id=wake_up.job_id)
        outcome = handle_job_wake_up(
            wake_up,
            settings=settings,
            jobs_for_region=jobs_for_region,
            store=store,
            storage=storage,
            notifier=notifier,
            publisher=publisher,
        )
        logs.info(f"job event {outcome.action}", state=outcome.state, notified=outcome.notified)
        return outcome

    def record(reason_code: str, detail: dict[str, Any]) -> None:
        store.record_rejected_event("job-state", reason_code, detail)

    return run_handler(
        "job-state", event, core, max_event_age_seconds=settings.flexrun_max_event_age, record_rejection=record
    )
