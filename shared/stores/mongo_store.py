"""The run store on MongoDB (pymongo): `runs`, `predictions` and `rejected_events` collections.

Queries filter only on fields that exist from the insert on (state_rank, notified_state,
notify_lease_until, run_key, attempt): comparisons on missing fields, `$or` and `$not` differ between
MongoDB and nx-27017 (the local server), and these do not. Dates written by `$set` come back as text
from nx-27017; `normal_form` restores them, and date ranges are checked after reading for that reason.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from shared.errors import TransientError
from shared.runs.record import PREDICTION_FIELDS, SCHEMA_VERSION, for_write, normal_form, now
from shared.runs.states import RunState

TERMINAL_RANK = RunState.SUCCEEDED.rank


def _transient(exc: Exception) -> TransientError:
    return TransientError(f"MongoDB unavailable: {exc.__class__.__name__}")


class MongoRunStore:
    """Runs in `runs`, forecasts in `predictions`, poison events in `rejected_events`."""

    def __init__(self, database: Any) -> None:
        self._db = database
        self._runs = database["runs"]
        self._predictions = database["predictions"]
        self._rejected = database["rejected_events"]
        self._indexed = False

    def _ensure_indexes(self) -> None:
        if self._indexed:
            return
        import pymongo

        asc, desc = pymongo.ASCENDING, pymongo.DESCENDING
        self._runs.create_index([("run_key", asc), ("attempt", asc)], unique=True)
        self._runs.create_index([("job_id", asc)])
        self._runs.create_index([("requested_at", desc)])
        self._runs.create_index([("state_rank", asc), ("requested_at", asc)])
        self._predictions.create_index([("run_key", asc), ("symbol", asc), ("target_date", asc)], unique=True)
        self._predictions.create_index([("symbol", asc), ("target_date", desc)])
        self._indexed = True

    def _call(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError

        try:
            self._ensure_indexes()
            return operation(*args, **kwargs)
        except (ConnectionFailure, AutoReconnect, ServerSelectionTimeoutError) as exc:
            raise _transient(exc) from exc

    def _find(self, query: dict[str, Any], sort: list[tuple[str, int]] | None = None, limit: int = 0) -> list[dict]:
        def run() -> list[dict[str, Any]]:
            cursor = self._runs.find(query, {"_id": 0})
            if sort:
                cursor = cursor.sort(sort)
            if limit:
                cursor = cursor.limit(limit)
            return [normal_form(doc) for doc in cursor]  # type: ignore[misc]

        return self._call(run)

    def claim(self, run_key: str, attempt: int, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the run if it is new; return (record, created). Two racing claims: one creates."""
        from pymongo.errors import DuplicateKeyError

        document = {
            "schema_version": SCHEMA_VERSION,
            "run_key": run_key,
            "attempt": attempt,
            "state": RunState.REQUESTED.value,
            "state_rank": RunState.REQUESTED.rank,
            "requested_at": now(),
            "notified_state": "",
            "notify_lease_until": 0.0,
            **for_write(fields),
        }
        document["updated_at"] = document["requested_at"]
        try:
            self._call(self._runs.insert_one, document)
            return normal_form(document), True  # type: ignore[return-value]
        except DuplicateKeyError:
            existing = self.get(run_key, attempt)
            assert existing is not None
            return existing, False

    def attach_job(self, run_key: str, attempt: int, fields: dict[str, Any]) -> None:
        self.update_fields(run_key, attempt, fields)

    def advance(self, run_key: str, attempt: int, state: RunState, fields: dict[str, Any]) -> bool:
        """Move to `state` only from a lower rank; True when this call made the move."""
        moment = now()
        result = self._call(
            self._runs.update_one,
            {"run_key": run_key, "attempt": attempt, "state_rank": {"$lt": state.rank}},
            # One top-level `<state>_at` field per state rather than a pushed history list: the same on
            # every MongoDB-protocol server (nx-27017 stores pushed or nested dates as strings).
            {
                "$set": {
                    "state": state.value,
                    "state_rank": state.rank,
                    "updated_at": moment,
                    f"{state.value}_at": moment,
                    **for_write(fields),
                }
            },
        )
        return bool(result.modified_count)

    def update_fields(self, run_key: str, attempt: int, fields: dict[str, Any]) -> None:
        self._call(
            self._runs.update_one,
            {"run_key": run_key, "attempt": attempt},
            {"$set": {**for_write(fields), "updated_at": now()}},
        )

    def get(self, run_key: str, attempt: int = 1) -> dict[str, Any] | None:
        return normal_form(self._call(self._runs.find_one, {"run_key": run_key, "attempt": attempt}, {"_id": 0}))

    def attempts(self, run_key: str) -> list[dict[str, Any]]:
        return self._find({"run_key": run_key}, [("attempt", 1)])

    def find_by_job_id(self, job_id: str) -> dict[str, Any] | None:
        return normal_form(self._call(self._runs.find_one, {"job_id": job_id}, {"_id": 0}))

    def latest_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._find({}, [("requested_at", -1)], limit)

    def open_runs(self, requested_before: datetime) -> list[dict[str, Any]]:
        found = self._find({"state_rank": {"$lt": TERMINAL_RANK}}, [("requested_at", 1)])
        return [run for run in found if run["requested_at"] < requested_before]

    def runs_ended_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        found = self._find({"state_rank": TERMINAL_RANK})
        return [run for run in found if "ended_at" in run and start <= run["ended_at"] < end]

    def claim_notification(self, run_key: str, attempt: int, state: RunState, lease_seconds: int = 120) -> bool:
        """Take the right to announce `state`; False if it was announced or another sender holds the lease.

        The lease is an epoch number and both fields exist from the claim on: comparisons of numbers and
        strings on present fields behave the same in every MongoDB-protocol server we run against.
        """
        moment = time.time()
        result = self._call(
            self._runs.update_one,
            {
                "run_key": run_key,
                "attempt": attempt,
                "notified_state": {"$ne": state.value},
                "notify_lease_until": {"$lt": moment},
            },
            {"$set": {"notify_lease_until": moment + lease_seconds}},
        )
        return bool(result.modified_count)

    def finish_notification(self, run_key: str, attempt: int, state: RunState, sent: bool) -> None:
        changes: dict[str, Any] = {"notify_lease_until": 0.0}
        if sent:
            changes.update({"notified_state": state.value, "notified_at": now()})
        self.update_fields(run_key, attempt, changes)

    def replace_predictions(self, run_key: str, attempt: int, rows: list[dict[str, Any]]) -> None:
        """Upsert this attempt's rows by (run_key, symbol, target_date), then drop other attempts' rows."""
        for row in rows:
            key = {"run_key": run_key, "symbol": row["symbol"], "target_date": row["target_date"]}
            self._call(
                self._predictions.update_one,
                key,
                {"$set": {**for_write(row), "run_key": run_key, "attempt": attempt}},
                upsert=True,
            )
        self._call(self._predictions.delete_many, {"run_key": run_key, "attempt": {"$ne": attempt}})

    def predictions(self, run_key: str) -> list[dict[str, Any]]:
        found = self._call(lambda: list(self._predictions.find({"run_key": run_key}, {"_id": 0})))
        rows = [row for row in (normal_form(found_row, PREDICTION_FIELDS) for found_row in found) if row]
        return sorted(rows, key=lambda row: (row["symbol"], row["target_date"]))

    def latest_predictions(self) -> list[dict[str, Any]]:
        """Newest forecast per symbol: the latest target date, then the newest generation.

        Picked here rather than by `$group`: nx-27017 falls back on some aggregations, and a few rows per
        symbol and day stay small (the Supabase store has the `latest_predictions` view).
        """
        found = self._call(lambda: list(self._predictions.find({}, {"_id": 0})))
        rows = [row for row in (normal_form(found_row, PREDICTION_FIELDS) for found_row in found) if row]
        newest: dict[str, dict[str, Any]] = {}
        for row in sorted(rows, key=_newest_first, reverse=True):
            newest.setdefault(row["symbol"], row)
        return [newest[symbol] for symbol in sorted(newest)]

    def record_rejected_event(self, function: str, reason_code: str, detail: dict[str, Any]) -> None:
        self._call(self._rejected.insert_one, {"function": function, "reason_code": reason_code, "at": now(), **detail})


def _newest_first(row: dict[str, Any]) -> tuple[Any, ...]:
    generated = row.get("generated_at")
    return (row["target_date"], generated.timestamp() if generated else 0.0, row["run_key"])
