"""Cloud Function: a Vertex AI job log entry arrived → read the job → record the run → tell Slack."""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.cloud import wiring
from shared.cloud.lazy import Lazy
from shared.config import logs, startup
from shared.config.settings import get_settings
from shared.runs.job_state import handle_job_event

logs.setup()  # the libraries' own log lines in Cloud Logging's JSON too
startup.preload(*wiring.RUN_EVENT_CLIENTS)


@functions_framework.cloud_event
def on_job_state_changed(event: CloudEvent) -> None:
    settings = get_settings()
    handle_job_event(
        event,
        settings=settings,
        jobs_for_region=wiring.jobs_for_region(settings),
        store=Lazy(lambda: wiring.run_store(settings)),
        storage=Lazy(lambda: wiring.storage(settings)),
        notifier=Lazy(lambda: wiring.notifier(settings)),
        publisher=Lazy(lambda: wiring.run_requests_publisher(settings)),
    )
