"""Pub/Sub message → CloudEvent conversion (pure, no processes): shapes match Google's testdata."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from local.standins.cloudevents import Message, message_published_event, storage_finalized_event

PUBLISHED = datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=timezone.utc)


def _notification(bucket: str, event_type: str = "OBJECT_FINALIZE") -> Message:
    resource = {  # what fake-gcs-server publishes (JSON_API_V1): note `#` in id, no metageneration
        "kind": "storage#object",
        "id": f"{bucket}/pkg.tar.gz#1764244800123456",
        "name": "pkg.tar.gz",
        "bucket": bucket,
        "generation": 1764244800123456,
        "size": 13,
        "timeCreated": "2026-11-27T12:00:00.123456Z",
        "updated": "2026-11-27T12:00:00.123456Z",
    }
    attributes = {"eventType": event_type, "bucketId": bucket, "objectId": "pkg.tar.gz",
                  "payloadFormat": "JSON_API_V1"}  # fmt: skip
    return Message("42", json.dumps(resource).encode(), PUBLISHED, attributes)


def test_finalize_notification_becomes_storage_object_data_with_int64_fields_as_strings() -> None:
    event = storage_finalized_event(_notification("packages"), package_bucket="packages")

    assert event is not None
    assert event["type"] == "google.cloud.storage.object.v1.finalized"
    assert event["subject"] == "objects/pkg.tar.gz"
    assert event["time"] == "2026-11-27T12:00:00.123Z"
    data = event.get_data()
    # as in google-cloudevents testdata StorageObjectDataWorkflows-simple.json
    assert (data["size"], data["generation"], data["metageneration"]) == ("13", "1764244800123456", "1")
    assert data["id"] == "packages/pkg.tar.gz/1764244800123456"


def test_notifications_the_trigger_filters_out_become_no_event() -> None:
    assert storage_finalized_event(_notification("staging"), package_bucket="packages") is None
    assert storage_finalized_event(_notification("packages", "OBJECT_DELETE"), package_bucket="packages") is None


def test_message_without_attributes_has_no_attributes_field() -> None:
    event = message_published_event(Message("7", b"hi", PUBLISHED), "p", "t", "s")

    assert event["source"] == "//pubsub.googleapis.com/projects/p/topics/t"
    assert event.get_data() == {
        "message": {"data": "aGk=", "messageId": "7", "message_id": "7",
                    "publishTime": "2026-11-27T12:00:00.123Z", "publish_time": "2026-11-27T12:00:00.123Z"},
        "subscription": "projects/p/subscriptions/s",
    }  # fmt: skip
