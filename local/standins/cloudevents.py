"""Pub/Sub messages → CloudEvents, shaped exactly as Eventarc delivers them to a function.

Pure functions (no I/O), so the shapes are testable without starting anything. Reference shapes:
Google's `googleapis/google-cloudevents` testdata (`StorageObjectData*.json`,
`MessagePublishedData*.json`) and the Eventarc "CloudEvents JSON format" page.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cloudevents.http import CloudEvent

from deploy.topology import PUBSUB_PUBLISHED, STORAGE_FINALIZED

# JSON_API_V1 object fields that are int64 in the API and therefore strings in JSON (and in real
# StorageObjectData events). fake-gcs-server already writes size/generation as strings; we make sure.
_INT64_FIELDS = ("size", "generation", "metageneration", "componentCount")


@dataclass(frozen=True)
class Message:
    """The parts of a pulled Pub/Sub message that Eventarc uses."""

    message_id: str
    data: bytes
    publish_time: datetime
    attributes: dict[str, str] = field(default_factory=dict)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and `Z`, as Google's APIs write timestamps."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _normalise_time(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return rfc3339(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return value


def storage_object_data(resource: dict[str, Any]) -> dict[str, Any]:
    """The object resource of a JSON_API_V1 notification, as real StorageObjectData reads."""
    data = dict(resource)
    data.setdefault("metageneration", "1")  # fake-gcs-server omits it; every new object has 1
    for key in _INT64_FIELDS:
        if key in data and data[key] is not None:
            data[key] = str(data[key])
    bucket, name, generation = data.get("bucket"), data.get("name"), data.get("generation")
    if bucket and name and generation:
        data["id"] = f"{bucket}/{name}/{generation}"  # fake-gcs writes `bucket/name#generation`
    for key in ("timeCreated", "updated", "timeStorageClassUpdated"):
        data[key] = _normalise_time(data.get(key))
    if data.get("timeStorageClassUpdated") is None and "timeCreated" in data:
        data["timeStorageClassUpdated"] = data["timeCreated"]
    return {key: value for key, value in data.items() if value is not None}


def storage_finalized_event(message: Message, package_bucket: str) -> CloudEvent | None:
    """A `google.cloud.storage.object.v1.finalized` event, or None if the trigger would not fire.

    The trigger filters on the package bucket and on finalize: fake-gcs-server notifies for every
    bucket (and delete/metadata events if asked), and Eventarc never delivers those to this function.
    """
    attributes = message.attributes
    if attributes.get("eventType") != "OBJECT_FINALIZE" or attributes.get("bucketId") != package_bucket:
        return None
    data = storage_object_data(json.loads(message.data))
    bucket, name = data.get("bucket", package_bucket), data["name"]
    event_time = data.get("updated") or attributes.get("eventTime")  # eventTime has whole seconds only
    return CloudEvent(
        {
            "id": message.message_id,
            "type": STORAGE_FINALIZED,
            "source": f"//storage.googleapis.com/projects/_/buckets/{bucket}",
            "subject": f"objects/{name}",
            "time": _normalise_time(event_time) if event_time else rfc3339(message.publish_time),
            "datacontenttype": "application/json",
            "specversion": "1.0",
        },
        data,
    )


def message_published_event(message: Message, project: str, topic: str, subscription: str) -> CloudEvent:
    """A `google.cloud.pubsub.topic.v1.messagePublished` event carrying MessagePublishedData."""
    published = rfc3339(message.publish_time)
    body: dict[str, Any] = {
        "data": base64.b64encode(message.data).decode("ascii"),
        # Real deliveries carry both spellings (google-cloudevents `duplicatedFields` testdata).
        "messageId": message.message_id,
        "message_id": message.message_id,
        "publishTime": published,
        "publish_time": published,
    }
    if message.attributes:
        body["attributes"] = dict(message.attributes)
    return CloudEvent(
        {
            "id": message.message_id,
            "type": PUBSUB_PUBLISHED,
            "source": f"//pubsub.googleapis.com/projects/{project}/topics/{topic}",
            "time": published,
            "datacontenttype": "application/json",
            "specversion": "1.0",
        },
        {"message": body, "subscription": f"projects/{project}/subscriptions/{subscription}"},
    )
