"""Where runs are recorded. One small interface; MongoDB (pymongo) is the first implementation.

Idempotency lives in the database, not in read-then-write code: a unique index on (run_key, attempt),
state moves guarded by rank, and a notification lease so one terminal state is announced once.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Protocol

from shared.errors import TransientError
from shared.runs import SCHEMA_VERSION, RunState


def _now() -> datetime:
    return datetime.now(timezone.utc)


class RunStore(Protocol):
    def claim(self, run_key: str, attempt: int, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]: ...
    def attach_job(self, run_key: str, attempt: int, fields: dict[str, Any]) -> None: ...
    def advance(self, run_key: str, attempt: int, state: RunState, fields: dict[str, Any]) -> bool: ...
    def update_fields(self, run_key: str, attempt: int, fields: dict[str, Any]) -> None: ...
    def get(self, run_key: str, attempt: int = 1) -> dict[str, Any] | None: ...
    def find_by_job_id(self, job_id: str) -> dict[str, Any] | None: ...
    def claim_notification(self, run_key: str, attempt: int, state: RunState, lease_seconds: int = 120) -> bool: ...
    def finish_notification(self, run_key: str, attempt: int, state: RunState, sent: bool) -> None: ...
    def record_rejected_event(self, function: str, reason_code: str, detail: dict[str, Any]) -> None: ...


def _dates_restored(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """`*_at` fields as aware datetimes, whatever the server handed back.

    nx-27017 (the embedded default) returns a date written by `$set` to a new top-level field as a
    string; MongoDB returns a date. Normalising here keeps every reader of a record server-agnostic.
    """
    if record is None:
        return None
    for key, value in record.items():
        if key.endswith("_at") and isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            record[key] = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return record


def _transient(exc: Exception) -> TransientError:
    return TransientError(f"MongoDB unavailable: {exc.__class__.__name__}")


class MongoRunStore:
    """Runs in `runs`, poison events in `rejected_events`; schema documented in docs/run-record.md."""

    def __init__(self, database: Any) -> None:
        self._db = database
        self._runs = database["runs"]
        self._rejected = database["rejected_events"]
        self._indexed = False

    def _ensure_indexes(self) -> None:
        if self._indexed:
            return
        import pymongo

        self._runs.create_index([("run_key", pymongo.ASCENDING), ("attempt", pymongo.ASCENDING)], unique=True)
        self._runs.create_index([("job_id", pymongo.ASCENDING)])
        self._runs.create_index([("requested_at", pymongo.DESCENDING)])
        self._indexed = True

    def _call(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError

        try:
            self._ensure_indexes()
            return operation(*args, **kwargs)
        except (ConnectionFailure, AutoReconnect, ServerSelectionTimeoutError) as exc:
            raise _transient(exc) from exc

    def claim(self, run_key: str, attempt: int, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the run if it is new; return (record, created). Two racing claims: one creates."""
        from pymongo.errors import DuplicateKeyError

        document = {
            "schema_version": SCHEMA_VERSION,
            "run_key": run_key,
            "attempt": attempt,
            "state": RunState.REQUESTED.value,
            "state_rank": RunState.REQUESTED.rank,
            "requested_at": _now(),
            "notified_state": "",
            "notify_lease_until": 0.0,
            **fields,
        }
        try:
            self._call(self._runs.insert_one, document)
            document.pop("_id", None)
            return document, True
        except DuplicateKeyError:
            existing = self.get(run_key, attempt)
            assert existing is not None
            return existing, False

    def attach_job(self, run_key: str, attempt: int, fields: dict[str, Any]) -> None:
        self.update_fields(run_key, attempt, fields)

    def advance(self, run_key: str, attempt: int, state: RunState, fields: dict[str, Any]) -> bool:
        """Move to `state` only from a lower rank; True when this call made the move."""
        result = self._call(
            self._runs.update_one,
            {"run_key": run_key, "attempt": attempt, "state_rank": {"$lt": state.rank}},
            {
                # One top-level `<state>_at` field per state rather than a pushed history list: the same
                # on every MongoDB-protocol server (nx-27017 stores pushed or nested dates as strings).
                "$set": {
                    "state": state.value,
                    "state_rank": state.rank,
                    "updated_at": _now(),
                    f"{state.value}_at": _now(),
                    **fields,
                },
            },
        )
        return bool(result.modified_count)

    def update_fields(self, run_key: str, attempt: int, fields: dict[str, Any]) -> None:
        self._call(
            self._runs.update_one,
            {"run_key": run_key, "attempt": attempt},
            {"$set": {**fields, "updated_at": _now()}},
        )

    def get(self, run_key: str, attempt: int = 1) -> dict[str, Any] | None:
        return _dates_restored(self._call(self._runs.find_one, {"run_key": run_key, "attempt": attempt}, {"_id": 0}))

    def find_by_job_id(self, job_id: str) -> dict[str, Any] | None:
        return _dates_restored(self._call(self._runs.find_one, {"job_id": job_id}, {"_id": 0}))

    def claim_notification(self, run_key: str, attempt: int, state: RunState, lease_seconds: int = 120) -> bool:
        """Take the right to announce `state`; False if it was announced or another sender holds the lease.

        The lease is an epoch number and both fields exist from the claim on: comparisons of numbers and
        strings on present fields behave the same in every MongoDB-protocol server we run against
        (nx-27017 differs from MongoDB on missing fields, nulls and aware dates).
        """
        now = time.time()
        result = self._call(
            self._runs.update_one,
            {
                "run_key": run_key,
                "attempt": attempt,
                "notified_state": {"$ne": state.value},
                "notify_lease_until": {"$lt": now},
            },
            {"$set": {"notify_lease_until": now + lease_seconds}},
        )
        return bool(result.modified_count)

    def finish_notification(self, run_key: str, attempt: int, state: RunState, sent: bool) -> None:
        changes: dict[str, Any] = {"notify_lease_until": 0}
        if sent:
            changes.update({"notified_state": state.value, "notified_at": _now()})
        self.update_fields(run_key, attempt, changes)

    def record_rejected_event(self, function: str, reason_code: str, detail: dict[str, Any]) -> None:
        self._call(
            self._rejected.insert_one,
            {"function": function, "reason_code": reason_code, "at": _now(), **detail},
        )
