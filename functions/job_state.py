"""Cloud Function: a Vertex AI job log entry arrived → read the job → record the run → tell Slack."""

from __future__ import annotations

from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from shared import logs, wiring
from shared.events import parse_pubsub_message
from shared.handler import run_handler
from shared.job_events import parse_job_log_entry
from shared.report import handle_job_wake_up
from shared.settings import get_settings


@functions_framework.cloud_event
def on_job_state_changed(event: CloudEvent) -> None:
    settings = get_settings()

    def core() -> None:
        wake_up = parse_job_log_entry(parse_pubsub_message(event))
        if wake_up is None:
            logs.debug("log entry is not a Vertex job service entry; ignored")
            return
        logs.bind(job_id=wake_up.job_id)
        outcome = handle_job_wake_up(
            wake_up,
            settings=settings,
            jobs_for_region=wiring.jobs_for_region(settings),
            store=wiring.run_store(settings),
            storage=wiring.storage(settings),
            notifier=wiring.notifier(settings),
        )
        logs.info(f"job event {outcome.action}", state=outcome.state, notified=outcome.notified)

    def record(reason_code: str, detail: dict[str, Any]) -> None:
        wiring.run_store(settings).record_rejected_event("job-state", reason_code, detail)

    run_handler("job-state", event, core, max_event_age_seconds=settings.flexrun_max_event_age, record_rejection=record)
