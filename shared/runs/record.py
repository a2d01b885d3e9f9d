"""The run record, schema version 1 (docs/run-record.md): one typed model, validated when read from any store.

A run is one `RunSpec` (what every attempt shares: the package, the request, the fallback chain) and
one `RunRecord` per attempt (the spec, the attempt's step, and what happened to it). Stores map the
model to MongoDB documents and to the Supabase columns (`supabase/migrations/`: one column per field)
and validate what they read back, so every reader gets the same value: absent fields are `None`,
times are aware UTC datetimes with millisecond precision (what a BSON date holds).

Writes after the claim are `RunChanges`: the fields it sets (`model_fields_set`) are the update.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.runs.fallback import Resolved
from shared.runs.states import RunState

if TYPE_CHECKING:
    from shared.jobs.custom_job import RunPlan

SCHEMA_VERSION = 1


def to_millis(moment: datetime) -> datetime:
    """UTC, truncated to the millisecond: what every store can hold exactly."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def now() -> datetime:
    return to_millis(datetime.now(timezone.utc))


# Text (nx-27017 hands `$set` dates back as text, PostgREST always) or datetime in; aware UTC ms out.
Moment = Annotated[datetime, AfterValidator(to_millis)]
JsonObject = dict[str, Any]  # a JSON document kept as written (the trainer's metrics.json)


class RunError(BaseModel):
    """Why an attempt failed: Vertex's `error` (`google.rpc.Status` code and message), or ours."""

    code: int | None = None
    message: str = ""


class TrainerOutcome(BaseModel):
    """The trainer's own account of how it ended: its `outcome.json`, schema 1 (trainer/README.md).

    Vertex reports only the replica's exit status; this says why (`data_error`) and the last error line.
    """

    model_config = ConfigDict(extra="ignore")

    schema_version: Literal[1] = 1
    status: Literal["succeeded", "failed"]
    exit_code: int
    reason: str = Field(max_length=64)  # ok | bad_arguments | config_error | data_error | unexpected
    error_type: str | None = Field(None, max_length=200)
    error: str | None = Field(None, max_length=1000)  # the last error line (the trainer keeps it to 500)


class SkippedStep(BaseModel):
    """A step of the chain the quota snapshot ruled out before any job (shared/runs/quota_plan.py)."""

    step: str
    region: str
    reason: str
    request_url: str
    line: str  # `skipped L4 @ us-east4: preemptible L4 quota 0 — request it at https://...`


class RunSpec(BaseModel):
    """What every attempt of a run shares: recorded on each attempt, so a fallback needs only the record."""

    run_key: str
    correlation_id: str
    package_uri: str
    package_version: str
    package_sha256: str
    package_module: str | None = None  # what the job runs with `python -m` (None: FLEXRUN_TRAINER_MODULE)
    timeout_seconds: int
    replicas: int = 1  # replicas of the training pool (a chief and replicas - 1 workers)
    # Mutable defaults as literals, which pydantic copies for each instance: `default_factory=list` costs an
    # inspect.signature of the builtin at import, ~0.1 ms a field and ~1.5 ms the first (a cold start's).
    args: list[str] = []
    env: dict[str, str] = {}
    requested_by: str | None = None
    reason: str | None = None
    published_at: Moment | None = None
    trigger: str = "message"
    chain: list[Resolved] = []
    skipped_steps: list[SkippedStep] = []


class RunChanges(BaseModel):
    """What an attempt learns after its claim; a write sets exactly the fields given (None clears one)."""

    model_config = ConfigDict(extra="forbid")

    job_name: str | None = None
    job_id: str | None = None
    vertex_state: str | None = None
    created_at: Moment | None = None
    started_at: Moment | None = None
    ended_at: Moment | None = None
    wait_seconds: float | None = None
    run_seconds: float | None = None
    usd_per_gpu_hour: float | None = None
    estimated_cost_usd: float | None = None
    total_cost_usd: float | None = None
    outputs_complete: bool | None = None
    outputs_error: str | None = None
    metrics: JsonObject | None = None
    metrics_summary: JsonObject | None = None
    artifacts: dict[str, str] | None = None
    plot_uri: str | None = None
    predictions_uri: str | None = None
    model_uri: str | None = None
    report_uri: str | None = None  # the run's page (shared/notify/run_page.py)
    prediction_count: int | None = None
    error: RunError | None = None
    trainer_outcome: TrainerOutcome | None = None  # a failed job's outcome.json, when the trainer wrote one
    failure_class: str | None = None
    hint: str | None = None
    next_attempt: int | None = None
    fallback_reason: str | None = None
    fallback_error: str | None = None
    claim_released_at: Moment | None = None

    def merged(self, other: RunChanges) -> RunChanges:
        """These changes, then `other`'s on top (only the fields each sets)."""
        return RunChanges(**{**self.set_fields(), **other.set_fields()})

    def set_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class RunRecord(RunSpec, RunChanges):
    """One attempt of a run, as every store hands it back.

    Fields a newer writer added that this version does not know are kept (`model_extra`), so copying a
    record into a mirror never drops them.
    """

    model_config = ConfigDict(extra="allow")

    attempt: int = 1
    schema_version: int = SCHEMA_VERSION
    # the attempt's step of the chain
    gpu_type: str
    gpu_count: int
    machine_type: str
    region: str
    strategy: str
    max_wait_seconds: int
    output_uri: str | None = None  # None only for a run refused before any job was planned (no quota)
    executor_image: str | None = None
    step_label: str
    previous_attempt: int | None = None
    # the state machine (shared/runs/states.py): moved only by the store's guarded `advance`
    state: RunState = RunState.REQUESTED
    state_rank: int = RunState.REQUESTED.rank
    requested_at: Moment | None = None
    queued_at: Moment | None = None
    pending_at: Moment | None = None
    running_at: Moment | None = None
    succeeded_at: Moment | None = None
    failed_at: Moment | None = None
    cancelled_at: Moment | None = None
    expired_at: Moment | None = None
    updated_at: Moment | None = None
    # the one Slack message per terminal state
    notified_state: str = ""
    notify_lease_until: float = 0.0
    notified_at: Moment | None = None

    @classmethod
    def for_plan(cls, spec: RunSpec, plan: RunPlan, step_label: str, **changes: Any) -> RunRecord:
        """The claim of `plan`'s attempt: the run's spec, the step it runs on, nothing happened yet."""
        return cls(
            **{name: getattr(spec, name) for name in RunSpec.model_fields},
            attempt=plan.attempt,
            gpu_type=plan.gpu_type,
            gpu_count=plan.gpu_count,
            machine_type=plan.machine_type,
            region=plan.region,
            strategy=plan.strategy,
            max_wait_seconds=plan.max_wait_seconds,
            output_uri=plan.output_uri,
            executor_image=plan.executor_image,
            step_label=step_label,
            **changes,
        )

    def spec(self) -> RunSpec:
        return RunSpec(**{name: getattr(self, name) for name in RunSpec.model_fields})

    def next_attempt_record(self, plan: RunPlan, step_label: str, reason: str) -> RunRecord:
        """The claim of the attempt that falls back from this one onto `plan`'s step."""
        return RunRecord.for_plan(self.spec(), plan, step_label, previous_attempt=self.attempt, fallback_reason=reason)

    @property
    def label(self) -> str:
        return f"{self.run_key}#{self.attempt}"

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal()

    @property
    def announced(self) -> bool:
        """Terminal, and that state's Slack message went out."""
        return self.is_terminal and self.notified_state == self.state.value

    def history(self) -> list[tuple[RunState, datetime]]:
        """The states this attempt went through, in order, from its `<state>_at` fields."""
        seen = [(state, getattr(self, f"{state.value}_at")) for state in RunState]
        return sorted(((s, at) for s, at in seen if at is not None), key=lambda item: (item[1], item[0].rank))

    def with_changes(self, changes: RunChanges) -> RunRecord:
        """This record with `changes` applied (what a store holds after writing them)."""
        return self.model_copy(update=changes.set_fields())


class Prediction(BaseModel):
    """One forecast row of `predictions`, keyed by (run_key, symbol, target_date)."""

    model_config = ConfigDict(extra="ignore")

    run_key: str = ""
    attempt: int = 1
    symbol: str
    target_date: str
    last_date: str | None = None
    last_close: float | None = None
    predicted_close: float
    predicted_return: float | None = None
    baselines: dict[str, float] | None = None
    model: str | None = None
    package_version: str | None = None
    generated_at: Moment | None = None


class GpuCost(BaseModel):
    """The attempts of one GPU type that ended in a period, and their estimated cost (aggregated by the store)."""

    gpu_type: str
    attempts: int
    usd: float
