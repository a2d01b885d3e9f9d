"""Cloud Function: a package landed in the bucket → validate it statically → promote or quarantine."""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.cloud import wiring
from shared.config import logs
from shared.config.settings import get_settings
from shared.events.cloudevents import parse_storage_object
from shared.events.handling import run_handler
from shared.packages.validate_package import handle_package_upload, is_package_object

logs.setup()  # the libraries' own log lines in Cloud Logging's JSON too


@functions_framework.cloud_event
def on_package_uploaded(event: CloudEvent) -> None:
    settings = get_settings()

    def core() -> None:
        obj = parse_storage_object(event)
        logs.bind(object=obj.name, generation=obj.generation)
        if not is_package_object(obj, settings):
            # Most finalize events are not packages (the manifest's own writes, copies): answer them
            # before any storage client exists, which keeps a cold instance's first answer fast.
            logs.info("package event ignored", detail="not a trainer package")
            return
        outcome = handle_package_upload(
            obj,
            settings=settings,
            bucket=wiring.package_bucket(settings),
            manifest=wiring.manifest_store(settings),
            notifier=wiring.notifier(settings),
        )
        logs.info(f"package event {outcome.action}", detail=outcome.detail)

    run_handler("validate-package", event, core, max_event_age_seconds=settings.flexrun_max_event_age)
