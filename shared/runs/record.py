"""The run record, schema version 1 (docs/run-record.md): its fields and one normal form for every store.

Each store hands back the same dict for the same run: no `None` values (absent = not known), `*_at`
fields as aware UTC datetimes with millisecond precision (BSON dates carry milliseconds), booleans as
booleans. The field table is the contract; `supabase/migrations/` has one column per field.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

SCHEMA_VERSION = 1

TEXT, INT, FLOAT, BOOL, TIME, JSON = "text", "int", "float", "bool", "time", "json"

FIELDS: dict[str, str] = {
    "run_key": TEXT, "attempt": INT, "schema_version": INT, "correlation_id": TEXT,
    "job_name": TEXT, "job_id": TEXT, "vertex_state": TEXT,
    "package_version": TEXT, "package_sha256": TEXT, "package_uri": TEXT, "package_module": TEXT,
    "gpu_type": TEXT, "gpu_count": INT, "machine_type": TEXT, "region": TEXT, "strategy": TEXT,
    "chain": JSON, "step_label": TEXT, "previous_attempt": INT, "next_attempt": INT, "fallback_reason": TEXT,
    "fallback_error": TEXT, "executor_image": TEXT, "max_wait_seconds": INT, "timeout_seconds": INT, "output_uri": TEXT,
    "requested_by": TEXT, "reason": TEXT, "trigger": TEXT, "published_at": TIME,
    "state": TEXT, "state_rank": INT,
    "requested_at": TIME, "queued_at": TIME, "pending_at": TIME, "running_at": TIME, "succeeded_at": TIME,
    "failed_at": TIME, "cancelled_at": TIME, "expired_at": TIME, "updated_at": TIME,
    "created_at": TIME, "started_at": TIME, "ended_at": TIME, "wait_seconds": FLOAT, "run_seconds": FLOAT,
    "usd_per_gpu_hour": FLOAT, "estimated_cost_usd": FLOAT, "total_cost_usd": FLOAT,
    "outputs_complete": BOOL, "outputs_error": TEXT, "metrics": JSON, "metrics_summary": JSON, "artifacts": JSON,
    "plot_uri": TEXT, "predictions_uri": TEXT, "model_uri": TEXT, "prediction_count": INT,
    "error": JSON, "failure_class": TEXT, "hint": TEXT,
    "notified_state": TEXT, "notify_lease_until": FLOAT, "notified_at": TIME,
}  # fmt: skip

PREDICTION_FIELDS: dict[str, str] = {
    "run_key": TEXT, "symbol": TEXT, "target_date": TEXT, "attempt": INT, "last_date": TEXT,
    "last_close": FLOAT, "predicted_close": FLOAT, "predicted_return": FLOAT, "baselines": JSON,
    "model": TEXT, "package_version": TEXT, "generated_at": TIME,
}  # fmt: skip


def now() -> datetime:
    return to_millis(datetime.now(timezone.utc))


def to_millis(moment: datetime) -> datetime:
    """UTC, truncated to the millisecond: what every store can hold exactly."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def for_write(fields: dict[str, Any]) -> dict[str, Any]:
    """Values as every store can keep them exactly (datetimes to milliseconds)."""
    return {key: to_millis(value) if isinstance(value, datetime) else value for key, value in fields.items()}


def _parse_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_millis(value)
    if isinstance(value, str):
        try:
            return to_millis(datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


def normal_form(record: dict[str, Any] | None, types: dict[str, str] = FIELDS) -> dict[str, Any] | None:
    """A record as read from any store, in the one shape every reader gets (see the module doc)."""
    if record is None:
        return None
    record = dict(record)
    record.pop("_id", None)
    extra = record.pop("extra", None)
    if isinstance(extra, dict):
        record = {**extra, **record}
    out: dict[str, Any] = {}
    for key, value in record.items():
        if value is None:
            continue
        kind = types.get(key)
        if kind == TIME or (kind is None and key.endswith("_at")):
            value = _parse_time(value)
        elif kind == BOOL and isinstance(value, int):
            value = bool(value)  # nx-27017 hands booleans back as 1/0
        out[key] = value
    return out


def split_known(fields: dict[str, Any], types: dict[str, str] = FIELDS) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fields with a column of their own, the rest): what a column store puts into `extra`."""
    known = {k: v for k, v in fields.items() if k in types}
    return known, {k: v for k, v in fields.items() if k not in types}


def jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    """Datetimes as ISO 8601 text, for JSON transports (PostgREST)."""
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in fields.items()}
