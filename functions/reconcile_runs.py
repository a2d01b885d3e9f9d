"""Cloud Function: a Cloud Scheduler tick → finish the runs no event will finish (shared/runs/reconcile.py),
then refresh the quota snapshot submit-run plans with (shared/quotas/refresh.py; never raises)."""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.cloud import wiring
from shared.cloud.lazy import Lazy
from shared.config import logs
from shared.config.settings import get_settings
from shared.runs.reconcile import handle_reconcile_request

logs.setup()  # the libraries' own log lines in Cloud Logging's JSON too


@functions_framework.cloud_event
def on_reconcile_requested(event: CloudEvent) -> None:
    settings = get_settings()
    handle_reconcile_request(
        event,
        settings=settings,
        store=Lazy(lambda: wiring.run_store(settings)),
        jobs_for_region=wiring.jobs_for_region(settings),
        storage=Lazy(lambda: wiring.storage(settings)),
        notifier=Lazy(lambda: wiring.notifier(settings)),
        publisher=Lazy(lambda: wiring.run_requests_publisher(settings)),
    )
    wiring.refresh_quota_snapshot(settings)
