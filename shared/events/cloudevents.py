"""CloudEvents in, typed values out: the only place that knows the shape of what Eventarc delivers.

The data is read by shared/events/proto_json.py, not by google.events' types: those import proto-plus
and protobuf, ~40 ms on every function's first event, to read two small JSON objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from shared.errors import InvalidEvent
from shared.events import proto_json
from shared.events.proto_json import BOOL, BYTES, INT32, INT64, STRING, STRING_MAP, TIMESTAMP, Message

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"

# The event data messages, field by field as googleapis/google-cloudevents defines them
# (proto/google/events/cloud/storage/v1/data.proto, proto/google/events/cloud/pubsub/v1/data.proto; sample
# payloads in testdata/google/events/cloud/{storage,pubsub}/v1/) and as google-events 0.14.0 ships them
# (`kind`, `delivery_attempt` included). Every field is type-checked as protobuf checked it; flexrun reads
# only some of them.
STORAGE_OBJECT_DATA = Message(
    "StorageObjectData",
    {
        **dict.fromkeys(("content_encoding", "content_disposition", "cache_control", "content_language"), STRING),
        "metageneration": INT64,
        "time_deleted": TIMESTAMP,
        "content_type": STRING,
        "size": INT64,
        "time_created": TIMESTAMP,
        "crc32c": STRING,
        "component_count": INT32,
        **dict.fromkeys(("md5_hash", "etag"), STRING),
        "updated": TIMESTAMP,
        **dict.fromkeys(("storage_class", "kms_key_name"), STRING),
        "time_storage_class_updated": TIMESTAMP,
        "temporary_hold": BOOL,
        "retention_expiration_time": TIMESTAMP,
        "metadata": STRING_MAP,
        "event_based_hold": BOOL,
        **dict.fromkeys(("name", "id", "bucket"), STRING),
        "generation": INT64,
        "customer_encryption": Message(
            "CustomerEncryption", dict.fromkeys(("encryption_algorithm", "key_sha256"), STRING)
        ),
        **dict.fromkeys(("media_link", "self_link", "kind"), STRING),
    },
)
PUBSUB_MESSAGE = Message(
    "PubsubMessage",
    {"data": BYTES, "attributes": STRING_MAP, "message_id": STRING, "publish_time": TIMESTAMP, "ordering_key": STRING},
)
MESSAGE_PUBLISHED_DATA = Message(
    "MessagePublishedData", {"message": PUBSUB_MESSAGE, "subscription": STRING, "delivery_attempt": INT32}
)


class CloudEventLike(Protocol):
    """What handlers need of `cloudevents.http.CloudEvent` (what functions-framework passes)."""

    data: Any

    def __getitem__(self, key: str) -> Any: ...

    def get(self, key: str, default: Any = None) -> Any: ...


@dataclass(frozen=True)
class StoredObject:
    """A finalized Cloud Storage object; (bucket, name, generation) identifies this exact upload."""

    bucket: str
    name: str
    generation: int
    size: int
    md5_hash: str
    content_type: str
    metadata: dict[str, str]
    time_created: datetime | None

    @property
    def dedupe_key(self) -> tuple[str, str, int]:
        return (self.bucket, self.name, self.generation)


@dataclass(frozen=True)
class PubsubMessage:
    data: bytes
    attributes: dict[str, str]
    message_id: str
    publish_time: datetime | None
    subscription: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        """The message data decoded as JSON; InvalidEvent when it is not."""
        try:
            return json.loads(self.data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidEvent(f"message data is not UTF-8 JSON: {exc}") from None


def _event_data(event: CloudEventLike) -> Any:
    """The data as JSON values: functions-framework hands a dict; raw bytes are read as protobuf reads text."""
    data = event.data
    if isinstance(data, (bytes, bytearray)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEvent("event data is not UTF-8") from None
        return proto_json.loads(text)
    if isinstance(data, dict):
        return data
    raise InvalidEvent(f"event data must be a JSON object, got {type(data).__name__}")


def _require_type(event: CloudEventLike, expected: str) -> None:
    actual = event.get("type")
    if actual != expected:
        raise InvalidEvent(f"unexpected event type {actual!r}; this function accepts {expected!r}")


def _parse(event: CloudEventLike, message: proto_json.Message) -> dict[str, Any]:
    try:
        return proto_json.parse(message, _event_data(event))
    except proto_json.ProtoJsonError as exc:
        raise InvalidEvent(f"event data is not a {message.name}: {exc}") from None


def parse_storage_object(event: CloudEventLike) -> StoredObject:
    _require_type(event, STORAGE_FINALIZED)
    obj = _parse(event, STORAGE_OBJECT_DATA)
    bucket, name, generation = obj.get("bucket", ""), obj.get("name", ""), obj.get("generation", 0)
    if not bucket or not name:
        raise InvalidEvent("StorageObjectData without bucket or name")
    if generation <= 0:
        raise InvalidEvent(f"StorageObjectData for {name!r} has no generation")
    return StoredObject(
        bucket=bucket,
        name=name,
        generation=generation,
        size=obj.get("size", 0),
        md5_hash=obj.get("md5_hash", ""),
        content_type=obj.get("content_type", ""),
        metadata=obj.get("metadata", {}),
        time_created=obj.get("time_created"),
    )


def parse_pubsub_message(event: CloudEventLike) -> PubsubMessage:
    _require_type(event, PUBSUB_PUBLISHED)
    published = _parse(event, MESSAGE_PUBLISHED_DATA)
    message = published.get("message", {})
    if not message.get("message_id"):
        # Pub/Sub assigns every message its ID at publish and delivers it with the message (PubsubMessage
        # reference: "assigned by the server when the message is published ... may be read by a subscriber
        # that receives a PubsubMessage via a Pull call or a push delivery", cloud.google.com/pubsub/docs/
        # reference/rest/v1/PubsubMessage). Without one this is no
        # delivery, and an empty message is otherwise a valid run request (run with defaults).
        raise InvalidEvent("event data has no message.messageId: not a Pub/Sub message delivery")
    return PubsubMessage(
        data=message.get("data", b""),
        attributes=message.get("attributes", {}),
        message_id=message["message_id"],
        publish_time=message.get("publish_time"),
        subscription=published.get("subscription", ""),
    )


def event_time(event: CloudEventLike) -> datetime | None:
    """The CloudEvent `time` attribute as an aware datetime (None when absent or unreadable)."""
    value = event.get("time")
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
