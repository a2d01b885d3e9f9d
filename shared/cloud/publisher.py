"""Publishing to a Pub/Sub topic: the one way a function hands work to another function.

job-state never creates a Vertex job itself; it publishes a continuation message that submit-run
claims (shared/runs/continuation.py). The client is the production `pubsub_v1.PublisherClient`;
PUBSUB_EMULATOR_HOST points it at the local emulator unchanged.
"""

from __future__ import annotations

from typing import Any, Protocol

from shared.errors import TransientError

PUBLISH_TIMEOUT_SECONDS = 30.0  # the client retries inside this; past it the event is redelivered


class Publisher(Protocol):
    def publish(self, data: bytes, attributes: dict[str, str]) -> str: ...


class TopicPublisher:
    """One topic; `publish` returns the message id once Pub/Sub has stored the message."""

    def __init__(self, client: Any, topic_path: str) -> None:
        self._client, self.topic_path = client, topic_path

    def publish(self, data: bytes, attributes: dict[str, str]) -> str:
        try:
            future = self._client.publish(self.topic_path, data, **attributes)
            return str(future.result(timeout=PUBLISH_TIMEOUT_SECONDS))
        except Exception as exc:
            # Any publish failure is worth a redelivery: the message is not stored, so nothing is doubled.
            raise TransientError(f"publishing to {self.topic_path}: {exc.__class__.__name__}") from exc
