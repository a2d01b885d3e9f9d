"""One CloudEvent per function that its handler answers (200) without reaching any cloud service.

The deploy tests and `bench/cold_start.py` send these to a bundle served by functions-framework, so
the check needs no network and no credentials beyond a local file; each is a path the handler takes.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

from cloudevents.http import CloudEvent

from deploy.topology import PUBSUB_PUBLISHED, STORAGE_FINALIZED

TEST_PROJECT = "test-project"
TEST_BUCKET = "test-packages-bucket"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _pubsub_event(data: dict, event_id: str) -> CloudEvent:
    attributes = {
        "type": PUBSUB_PUBLISHED,
        "source": f"//pubsub.googleapis.com/projects/{TEST_PROJECT}/topics/t",
        "id": event_id,
        "time": _now(),
    }
    return CloudEvent(attributes, data)


def _log_entry_message(entry: dict) -> dict:
    payload = base64.b64encode(json.dumps(entry).encode()).decode()
    return {"message": {"data": payload, "messageId": "m-1", "publishTime": _now()}, "subscription": "s"}


# name → (event, a phrase of the log line the handler writes for it)
EVENTS = {
    "validate-package": (
        CloudEvent(
            {
                "type": STORAGE_FINALIZED,
                "source": f"//storage.googleapis.com/projects/_/buckets/{TEST_BUCKET}",
                "subject": "objects/notes/readme.txt",
                "id": "deploy-check-1",
                "time": _now(),
            },
            {"bucket": TEST_BUCKET, "name": "notes/readme.txt", "generation": "7", "size": "10"},
        ),
        "package event ignored",
    ),
    "submit-run": (
        _pubsub_event({"message": {"data": "not base64!", "messageId": "m-2"}}, "deploy-check-2"),
        "event acknowledged without retry",
    ),
    "job-state": (
        _pubsub_event(_log_entry_message({"resource": {"type": "gce_instance"}}), "deploy-check-3"),
        "not a Vertex job service entry",
    ),
}
