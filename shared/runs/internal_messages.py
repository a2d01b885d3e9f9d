"""The messages flexrun publishes to itself on the run-requests topic (a fallback's continuation, the
reconciler's resubmission): a Pub/Sub attribute names the kind, the body is a strict model naming only
the run and the attempt, and submit-run recomputes everything else from the stored record."""

from __future__ import annotations

import json
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from shared.cloud.publisher import Publisher
from shared.errors import InvalidRunRequest
from shared.events.cloudevents import PubsubMessage

# The Pub/Sub attribute that tells submit-run a message is one of ours, not a person's run message.
KIND_ATTRIBUTE = "flexrun_kind"

Model = TypeVar("Model", bound=BaseModel)


class AttemptMessage(Protocol):
    run_key: str
    attempt: int
    correlation_id: str | None

    def model_dump(self, *, exclude_none: bool = ...) -> dict[str, Any]: ...


def is_kind(message: PubsubMessage, kind: str) -> bool:
    return message.attributes.get(KIND_ATTRIBUTE) == kind


def parse(message: PubsubMessage, model: type[Model], kind: str) -> Model:
    try:
        payload: Any = message.json()
        return model.model_validate(payload)
    except (ValueError, ValidationError) as exc:
        raise InvalidRunRequest(f"invalid {kind} message: {str(exc)[:500]}") from None


def publish(publisher: Publisher, kind: str, wanted: AttemptMessage) -> str:
    attributes = {KIND_ATTRIBUTE: kind, "run_key": wanted.run_key, "attempt": str(wanted.attempt)}
    if wanted.correlation_id:
        attributes["correlation_id"] = wanted.correlation_id
    return publisher.publish(json.dumps(wanted.model_dump(exclude_none=True)).encode(), attributes)
