"""Cloud Function: a run message was published → submit a Vertex AI CustomJob on DWS flex-start."""

from __future__ import annotations

from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from shared.cloud import wiring
from shared.cloud.lazy import Lazy
from shared.config import logs, startup
from shared.config.settings import get_settings
from shared.events.cloudevents import parse_pubsub_message
from shared.events.handling import run_handler
from shared.runs.submit_run import handle_run_request

logs.setup()  # the libraries' own log lines in Cloud Logging's JSON too
startup.preload(*wiring.RUN_EVENT_CLIENTS)


@functions_framework.cloud_event
def on_run_requested(event: CloudEvent) -> None:
    settings = get_settings()

    def core() -> None:
        message = parse_pubsub_message(event)
        logs.bind(message_id=message.message_id)
        manifest, _ = wiring.manifest_store(settings).read()
        outcome = handle_run_request(
            message,
            settings=settings,
            manifest=manifest,
            jobs_for_region=wiring.jobs_for_region(settings),
            store=wiring.run_store(settings),
            quota_snapshot=lambda: wiring.quota_snapshot(settings),
            notifier=Lazy(lambda: wiring.notifier(settings)),  # attempts that end without a job
        )
        logs.info(f"run request {outcome.action}", job_name=outcome.job_name)

    def record(reason_code: str, detail: dict[str, Any]) -> None:
        wiring.run_store(settings).record_rejected_event("submit-run", reason_code, detail)

    run_handler(
        "submit-run", event, core, max_event_age_seconds=settings.flexrun_max_event_age, record_rejection=record
    )
