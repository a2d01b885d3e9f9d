"""An attempt claimed but never given a job, handed back to submit-run by the reconciler.

A run stays `requested` with no job when every delivery of its message failed after the claim and the
message then aged past FLEXRUN_MAX_EVENT_AGE (handed to the reconciler), or when its claimant died
and no redelivery came. Only submit-run creates jobs, so the reconciler publishes this message on
the run-requests topic and submit-run resubmits the attempt from its stored record: the step it was
claimed for, never anything the message says. The claim dedupes, and a job the claimant created
before it died is found by its labels and adopted, so a duplicate or late resubmission creates nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.cloud.publisher import Publisher
from shared.events.cloudevents import PubsubMessage
from shared.runs import internal_messages
from shared.runs.fallback import Resolved
from shared.runs.record import RunRecord

KIND = "resubmission"
SCHEMA_VERSION = 1


class Resubmission(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    schema_version: int = SCHEMA_VERSION
    run_key: str = Field(min_length=1, max_length=63)
    attempt: int = Field(ge=1, le=10)
    correlation_id: str | None = Field(None, max_length=256)


def is_resubmission(message: PubsubMessage) -> bool:
    return internal_messages.is_kind(message, KIND)


def parse_resubmission(message: PubsubMessage) -> Resubmission:
    return internal_messages.parse(message, Resubmission, KIND)


def claimed_step(record: RunRecord) -> Resolved:
    """The step the attempt was claimed for, as its record holds it."""
    return Resolved(gpu_type=record.gpu_type, gpu_count=record.gpu_count, machine_type=record.machine_type,
                    region=record.region, strategy=record.strategy, max_wait=record.max_wait_seconds)  # fmt: skip


def publish(publisher: Publisher, record: RunRecord) -> str:
    wanted = Resubmission(run_key=record.run_key, attempt=record.attempt, correlation_id=record.correlation_id)
    return internal_messages.publish(publisher, KIND, wanted)
