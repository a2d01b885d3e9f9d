"""CloudEvents in, typed values out: the only place that knows the shape of what Eventarc delivers."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from shared.errors import InvalidEvent

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


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


def _event_data_json(event: CloudEventLike) -> str:
    data = event.data
    if isinstance(data, (bytes, bytearray)):
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEvent("event data is not UTF-8") from None
    if isinstance(data, dict):
        return json.dumps(data)
    raise InvalidEvent(f"event data must be a JSON object, got {type(data).__name__}")


def _require_type(event: CloudEventLike, expected: str) -> None:
    actual = event.get("type")
    if actual != expected:
        raise InvalidEvent(f"unexpected event type {actual!r}; this function accepts {expected!r}")


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def parse_storage_object(event: CloudEventLike) -> StoredObject:
    from google.events.cloud.storage import StorageObjectData  # imported lazily: cold start

    _require_type(event, STORAGE_FINALIZED)
    try:
        obj = StorageObjectData.from_json(_event_data_json(event), ignore_unknown_fields=True)
    except InvalidEvent:
        raise
    except Exception as exc:  # protobuf's json parser raises ParseError and ValueError alike
        raise InvalidEvent(f"event data is not a StorageObjectData: {exc}") from None
    if not obj.bucket or not obj.name:
        raise InvalidEvent("StorageObjectData without bucket or name")
    if obj.generation <= 0:
        raise InvalidEvent(f"StorageObjectData for {obj.name!r} has no generation")
    return StoredObject(
        bucket=obj.bucket,
        name=obj.name,
        generation=int(obj.generation),
        size=int(obj.size),
        md5_hash=obj.md5_hash,
        content_type=obj.content_type,
        metadata=dict(obj.metadata),
        time_created=_as_datetime(obj.time_created),
    )


def parse_pubsub_message(event: CloudEventLike) -> PubsubMessage:
    from google.events.cloud.pubsub import MessagePublishedData  # imported lazily: cold start

    _require_type(event, PUBSUB_PUBLISHED)
    raw = _event_data_json(event)
    _require_base64_data(raw)
    try:
        published = MessagePublishedData.from_json(raw, ignore_unknown_fields=True)
    except Exception as exc:  # bad base64 and bad shapes both land here
        raise InvalidEvent(f"event data is not a MessagePublishedData: {exc}") from None
    message = published.message
    if not message.message_id:
        # Pub/Sub assigns every message its ID at publish and delivers it with the message (PubsubMessage
        # reference: "assigned by the server when the message is published ... may be read by a subscriber
        # that receives a PubsubMessage via a Pull call or a push delivery", cloud.google.com/pubsub/docs/
        # reference/rest/v1/PubsubMessage). Without one this is no
        # delivery, and an empty message is otherwise a valid run request (run with defaults).
        raise InvalidEvent("event data has no message.messageId: not a Pub/Sub message delivery")
    return PubsubMessage(
        data=bytes(message.data),
        attributes=dict(message.attributes),
        message_id=message.message_id,
        publish_time=_as_datetime(message.publish_time),
        subscription=published.subscription,
    )


_BASE64 = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")


def _require_base64_data(raw: str) -> None:
    """`message.data` must be base64 as proto3 JSON defines it (standard or URL-safe, padding optional).

    protobuf's JSON parser drops characters outside the alphabet, so `"%%%"` or `"####===="` decode to
    empty data, which is a valid run request ("run with defaults"): a malformed message must never be one.
    """
    try:
        data = json.loads(raw).get("message", {}).get("data")
    except (json.JSONDecodeError, AttributeError):
        return  # not an object: MessagePublishedData.from_json refuses it with its own words
    if data is None:
        return
    if not isinstance(data, str) or not _BASE64.fullmatch(data):
        raise InvalidEvent("message.data is not base64")
    text = data.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEvent("message.data is not base64") from None


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
