"""The run store on MongoDB (pymongo): `runs`, `predictions` and `rejected_events` collections.

A record is one document with the `RunRecord` fields at the top level (unset fields absent). Every
write is one `insert_one` or one conditional `update_one`. Queries filter only on fields that exist from
the insert on (state_rank, notified_state, notify_lease_until, run_key, attempt) or on dates: comparisons
on missing fields, `$or` and `$not` differ between MongoDB and nx-27017 (the local server), and these
do not. nx-27017 keeps dates written by `$set` as text (`ended_at` is always written so, never at the
insert), which compares in the same order as the dates; `RunRecord` validation restores them.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from shared.errors import TransientError
from shared.runs.record import GpuCost, Prediction, RunChanges, RunRecord, now
from shared.runs.states import TERMINAL_RANK, RunState
from shared.stores.base import validated


def _transient(exc: Exception) -> TransientError:
    return TransientError(f"MongoDB unavailable: {exc.__class__.__name__}")


def document(record: RunRecord) -> dict[str, Any]:
    """A record as its MongoDB document: the fields it has, the state as its name."""
    return {**record.model_dump(exclude_none=True), "state": record.state.value}


def _update(changes: RunChanges, **more: Any) -> dict[str, Any]:
    """`$set` the fields the changes give, `$unset` those they clear (absent = not known)."""
    given = changes.model_dump(include=changes.model_fields_set)
    cleared = {name: "" for name, value in given.items() if value is None}
    update: dict[str, Any] = {"$set": {**{k: v for k, v in given.items() if v is not None}, **more}}
    if cleared:
        update["$unset"] = cleared
    return update


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
        from pymongo import ASCENDING as asc
        from pymongo import DESCENDING as desc
        from pymongo import IndexModel

        # One createIndexes command per collection, not one per index: each is a round trip on every
        # instance's first event (an existing index is left as it is, so it is safe to repeat).
        self._runs.create_indexes(
            [
                IndexModel([("run_key", asc), ("attempt", asc)], unique=True),
                IndexModel([("job_id", asc)]),
                IndexModel([("requested_at", desc)]),
                IndexModel([("state_rank", asc), ("requested_at", asc)]),
                IndexModel([("ended_at", asc)]),
            ]
        )
        self._predictions.create_indexes(
            [
                IndexModel([("run_key", asc), ("symbol", asc), ("target_date", asc)], unique=True),
                IndexModel([("symbol", asc), ("target_date", desc)]),
            ]
        )
        self._indexed = True

    def _call(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError

        try:
            self._ensure_indexes()
            return operation(*args, **kwargs)
        except (ConnectionFailure, AutoReconnect, ServerSelectionTimeoutError) as exc:
            raise _transient(exc) from exc

    def _find(
        self, query: dict[str, Any], sort: list[tuple[str, int]] | None = None, limit: int = 0
    ) -> list[RunRecord]:
        def run() -> list[dict[str, Any]]:
            cursor = self._runs.find(query, {"_id": 0})
            if sort:
                cursor = cursor.sort(sort)
            if limit:
                cursor = cursor.limit(limit)
            return list(cursor)

        return [validated(doc, "MongoDB") for doc in self._call(run)]

    def _find_one(self, query: dict[str, Any]) -> RunRecord | None:
        found = self._call(self._runs.find_one, query, {"_id": 0})
        return validated(found, "MongoDB") if found is not None else None

    def claim(self, record: RunRecord) -> tuple[RunRecord, bool]:
        """Create the attempt if it is new; return (record, created). Two racing claims: one creates."""
        from pymongo.errors import DuplicateKeyError

        moment = now()
        claimed = record.model_copy(
            update={
                "state": RunState.REQUESTED,
                "state_rank": RunState.REQUESTED.rank,
                "requested_at": moment,
                "updated_at": moment,
                "notified_state": "",
                "notify_lease_until": 0.0,
            }
        )
        try:
            self._call(self._runs.insert_one, document(claimed))
            return claimed, True
        except DuplicateKeyError:
            existing = self.get(record.run_key, record.attempt)
            assert existing is not None
            return existing, False

    def update(self, run_key: str, attempt: int, changes: RunChanges) -> None:
        self._call(self._runs.update_one, {"run_key": run_key, "attempt": attempt}, _update(changes, updated_at=now()))

    def advance(self, run_key: str, attempt: int, state: RunState, changes: RunChanges | None = None) -> bool:
        """Move to `state` only from a lower rank; True when this call made the move."""
        moment = now()
        result = self._call(
            self._runs.update_one,
            {"run_key": run_key, "attempt": attempt, "state_rank": {"$lt": state.rank}},
            # One top-level `<state>_at` field per state rather than a pushed history list: the same on
            # every MongoDB-protocol server (nx-27017 stores pushed or nested dates as strings).
            _update(
                changes or RunChanges(),
                state=state.value,
                state_rank=state.rank,
                updated_at=moment,
                **{f"{state.value}_at": moment},
            ),
        )
        return bool(result.modified_count)

    def get(self, run_key: str, attempt: int = 1) -> RunRecord | None:
        return self._find_one({"run_key": run_key, "attempt": attempt})

    def attempts(self, run_key: str) -> list[RunRecord]:
        return self._find({"run_key": run_key}, [("attempt", 1)])

    def find_by_job_id(self, job_id: str) -> RunRecord | None:
        return self._find_one({"job_id": job_id})

    def latest_runs(self, limit: int = 20) -> list[RunRecord]:
        return self._find({}, [("requested_at", -1)], limit)

    def open_runs(self, requested_before: datetime) -> list[RunRecord]:
        query = {"state_rank": {"$lt": TERMINAL_RANK}, "requested_at": {"$lt": requested_before}}
        return self._find(query, [("requested_at", 1)])

    def cost_by_gpu(self, start: datetime, end: datetime) -> list[GpuCost]:
        """Attempts that ended in [start, end) and their estimated cost per GPU type, summed by the server."""
        pipeline = [
            {"$match": {"state_rank": TERMINAL_RANK, "ended_at": {"$gte": start, "$lt": end}}},
            {"$group": {"_id": "$gpu_type", "attempts": {"$sum": 1}, "usd": {"$sum": "$estimated_cost_usd"}}},
            {"$sort": {"_id": 1}},
        ]
        groups = self._call(lambda: list(self._runs.aggregate(pipeline)))
        return [GpuCost(gpu_type=str(g["_id"]), attempts=g["attempts"], usd=g["usd"] or 0.0) for g in groups]

    def fallbacks_since(self, since: datetime) -> list[RunRecord]:
        """Finished attempts that called for a next attempt (`next_attempt`), updated since `since`."""
        return self._find({"state_rank": TERMINAL_RANK, "next_attempt": {"$gt": 1}, "updated_at": {"$gte": since}})

    def unannounced_since(self, since: datetime) -> list[RunRecord]:
        """Terminal attempts claimed since `since` whose Slack message never went out (`notified_state` "":
        a terminal state never changes, so a sent message always names it).

        The database selects them; the time bound is applied to the validated records, because nx-27017
        rewrites an updated document's dates as text, which no date bound compares with (and every
        terminal record has been updated). The set is small: ends not announced yet.
        """
        found = self._find({"state_rank": TERMINAL_RANK, "notified_state": ""})
        return [run for run in found if run.requested_at is not None and run.requested_at >= since]

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
        changes: dict[str, Any] = {"notify_lease_until": 0.0, "updated_at": now()}
        if sent:
            changes.update({"notified_state": state.value, "notified_at": now()})
        self._call(self._runs.update_one, {"run_key": run_key, "attempt": attempt}, {"$set": changes})

    def replace_predictions(self, run_key: str, attempt: int, rows: list[Prediction]) -> None:
        """Upsert this attempt's rows by (run_key, symbol, target_date), then drop other attempts' rows."""
        for row in rows:
            key = {"run_key": run_key, "symbol": row.symbol, "target_date": row.target_date}
            values = {**row.model_dump(exclude_none=True), "run_key": run_key, "attempt": attempt}
            self._call(self._predictions.update_one, key, {"$set": values}, upsert=True)
        self._call(self._predictions.delete_many, {"run_key": run_key, "attempt": {"$ne": attempt}})

    def _prediction_rows(self, query: dict[str, Any]) -> list[Prediction]:
        found = self._call(lambda: list(self._predictions.find(query, {"_id": 0})))
        return [Prediction.model_validate(row) for row in found]

    def predictions(self, run_key: str) -> list[Prediction]:
        return sorted(self._prediction_rows({"run_key": run_key}), key=lambda row: (row.symbol, row.target_date))

    def latest_predictions(self) -> list[Prediction]:
        """Newest forecast per symbol: the latest target date, then the newest generation.

        Picked here rather than by `$group`: nx-27017 falls back on some aggregations, and a few rows per
        symbol and day stay small (the Supabase store has the `latest_predictions` view).
        """
        newest: dict[str, Prediction] = {}
        for row in sorted(self._prediction_rows({}), key=_newest_first, reverse=True):
            newest.setdefault(row.symbol, row)
        return [newest[symbol] for symbol in sorted(newest)]

    def record_rejected_event(self, function: str, reason_code: str, detail: dict[str, Any]) -> None:
        self._call(self._rejected.insert_one, {"function": function, "reason_code": reason_code, "at": now(), **detail})


def _newest_first(row: Prediction) -> tuple[Any, ...]:
    return (row.target_date, row.generated_at.timestamp() if row.generated_at else 0.0, row.run_key)
