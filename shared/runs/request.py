"""The run message: what Cloud Scheduler or a person publishes to ask for a training run.

JSON in the Pub/Sub message data (schema_version 1); unknown fields, wrong types (strict: "3" is not
a number; durations are whole seconds or text like "1h30m") and bad values are refused with a message that
names the field. An empty message (`{}` or
no data) means "run the deployable version with defaults". Attributes are for routing only: `schedule`
(set by Cloud Scheduler jobs), `correlation_id`, `requested_by`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.config.durations import Seconds
from shared.config.settings import MAX_TIMEOUT_SECONDS
from shared.errors import InvalidRunRequest
from shared.events.cloudevents import PubsubMessage
from shared.jobs import catalog
from shared.runs import fallback

SCHEMA_VERSION = 1
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{1,63}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
# Secrets reach the trainer through Secret Manager references, never through a run message.
_SECRET_LOOKING = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL|MONGODB_URL|WEBHOOK)", re.I)


_GPU_SHORTHAND = re.compile(r"^(?P<type>[A-Za-z0-9_]+?)(?:[xX](?P<count>[0-9]+))?$")
GPU_FORMS = 'accepted forms: "L4", "L4x2", {"type": "L4", "count": 2} (type: a catalog name such as NVIDIA_L4)'

MAX_REPLICAS = 8  # a cap so a typo cannot book a fleet; raise it when a run needs more


class GpuRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: str
    count: int = Field(1, ge=1, le=16)

    @field_validator("type")
    @classmethod
    def _known_gpu(cls, value: str) -> str:
        try:
            catalog.gpu_entry(value)
        except InvalidRunRequest as exc:  # as a ValueError, so the refusal names the field
            raise ValueError(str(exc)) from None
        return catalog.canonical_gpu(value)


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    schema_version: int = SCHEMA_VERSION
    package_version: str | None = None
    gpu: GpuRequest | None = None
    # Machines of the same kind, all training one model (TensorFlow MultiWorkerMirroredStrategy).
    replicas: int = Field(1, ge=1, le=MAX_REPLICAS)
    machine_type: str | None = Field(None, pattern=r"^[a-z][a-z0-9]*-[a-z0-9-]+$")
    region: str | None = Field(None, pattern=r"^[a-z]+-[a-z]+[0-9]$")
    # Durations: seconds or the one grammar's text ("1h30m", shared/config/durations.py).
    max_wait: Seconds | None = Field(None, ge=0, description="0 = wait without limit.")
    timeout: Seconds | None = Field(None, ge=1, le=MAX_TIMEOUT_SECONDS)
    args: list[str] = Field([], max_length=64)
    env: dict[str, str] = Field({}, max_length=64)
    run_key: str | None = None
    requested_by: str | None = Field(None, max_length=128)
    reason: str | None = Field(None, max_length=1000)
    fallback: list[str] | None = Field(
        None, max_length=10, description="This run's capacity fallback steps (see shared/runs/fallback.py); [] = none."
    )

    @field_validator("gpu", mode="before")
    @classmethod
    def _gpu_shorthand(cls, value: Any) -> Any:
        """`"L4"` or `"L4x2"` (what people type) as `{"type": "L4", "count": 2}`."""
        if isinstance(value, str):
            found = _GPU_SHORTHAND.match(value.strip())
            if not found:
                raise ValueError(f"{value!r} is not a GPU; {GPU_FORMS}")
            return {"type": found["type"], "count": int(found["count"] or 1)}
        if value is not None and not isinstance(value, dict | GpuRequest):
            raise ValueError(f"expected a GPU; {GPU_FORMS}")
        return value

    @field_validator("fallback")
    @classmethod
    def _parsable_steps(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            fallback.parse_chain(value)
        return value

    @field_validator("schema_version")
    @classmethod
    def _known_schema(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"schema_version {value} is not supported (this flexrun reads {SCHEMA_VERSION})")
        return value

    @field_validator("run_key")
    @classmethod
    def _label_safe(cls, value: str | None) -> str | None:
        if value is not None and not _LABEL_VALUE.match(value):
            raise ValueError("run_key must be 1-63 characters of a-z, 0-9, '-' or '_' (it becomes a job label)")
        return value

    @field_validator("env")
    @classmethod
    def _plain_env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"env name {name!r} is not an UPPER_CASE identifier")
            if _SECRET_LOOKING.search(name):
                raise ValueError(f"env {name!r} looks like a secret; secrets come from Secret Manager")
        return value


def parse_run_request(message: PubsubMessage) -> RunRequest:
    payload: Any = {} if not message.data.strip() else message.json()
    if not isinstance(payload, dict):
        raise InvalidRunRequest(f"run message must be a JSON object, got {type(payload).__name__}")
    try:
        return RunRequest.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in exc.errors())
        raise InvalidRunRequest(f"invalid run message: {problems}") from None


def default_run_key(message: PubsubMessage) -> str:
    """One run per scheduled tick or per published message, stable across redeliveries.

    Cloud Scheduler jobs are deployed with a `schedule` attribute; their runs are keyed by the schedule
    name and the UTC minute of publication, so a duplicate publish of the same tick is the same run.
    """
    schedule = message.attributes.get("schedule")
    if schedule and message.publish_time is not None:
        stamp = message.publish_time.strftime("%Y%m%dt%H%M")
        return label_value(f"{schedule}-{stamp}")
    return label_value(f"msg-{message.message_id}")


def label_value(text: str) -> str:
    """A Vertex label value (lowercase, digits, '-', '_', at most 63 chars) that stays unique."""
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "x"
    if len(cleaned) <= 63:
        return cleaned
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{cleaned[:52]}-{digest}"
