"""The run store on Supabase: supabase-py over PostgREST, tables from supabase/migrations/.

Every write is one PostgREST request whose filters carry the guard (a PATCH with `state_rank=lt.N`
changes no row when a newer state is already there), so the database decides, as in the MongoDB store.
A record has one column per `RunRecord` field (tests/unit/test_run_record.py keeps the migration and the
model in step), so an update is one PATCH of the columns it sets. `extra` (jsonb) holds only the fields
of a newer writer this version does not know, written whole with the record they came with (the claim,
a mirror's `put`): nothing is ever merged into it by reading first. The month's cost is summed by
PostgreSQL (`rpc/run_costs`).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from shared.config import logs
from shared.errors import InvalidRecord, TransientError
from shared.runs.record import GpuCost, Prediction, RunChanges, RunRecord, now
from shared.runs.states import TERMINAL_RANK, RunState
from shared.stores.base import validated

_UNAVAILABLE = {"PGRST000", "PGRST001", "PGRST002", "PGRST003"}  # PostgREST: no database connection


def row(record: RunRecord) -> dict[str, Any]:
    """A record as its `runs` row (JSON for PostgREST): one column per field, unknown fields in `extra`."""
    values = record.model_dump(mode="json")
    extra = {name: values.pop(name) for name in record.model_extra or ()}
    if extra:
        values["extra"] = extra
    return values


def _from_row(found: dict[str, Any]) -> RunRecord:
    extra = found.pop("extra", None)
    known = {key: value for key, value in found.items() if value is not None}
    return validated({**(extra if isinstance(extra, dict) else {}), **known}, "Supabase")


class SupabaseRunStore:
    """`client` is `supabase.create_client(SUPABASE_URL, SUPABASE_KEY)` (service role key)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def _execute(self, request: Any) -> list[dict[str, Any]]:
        import httpx
        from postgrest.exceptions import APIError

        try:
            return list(request.execute().data or [])
        except httpx.HTTPError as exc:  # refused, reset, timed out: Supabase or the network is down
            raise TransientError(f"Supabase unavailable: {exc.__class__.__name__}") from exc
        except APIError as exc:
            if exc.code in _UNAVAILABLE or str(exc.code).startswith("5"):
                raise TransientError(f"Supabase unavailable: {exc.code} {exc.message}") from exc
            raise RuntimeError(f"Supabase refused the request: {exc.code} {exc.message}") from exc

    def _runs(self) -> Any:
        return self._client.table("runs")

    def _patch(self, run_key: str, attempt: int, values: dict[str, Any], **guards: tuple[str, Any]) -> int:
        """One PATCH of `values`, changing the row only where every guard holds; the rows changed."""
        request = self._runs().update(values).eq("run_key", run_key).eq("attempt", attempt)
        for column, (operator, value) in guards.items():
            request = getattr(request, operator)(column, value)
        return len(self._execute(request))

    def claim(self, record: RunRecord) -> tuple[RunRecord, bool]:
        """Insert the run unless (run_key, attempt) exists: `resolution=ignore-duplicates` returns no row then."""
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
        inserted = self._execute(
            self._runs().upsert(row(claimed), on_conflict="run_key,attempt", ignore_duplicates=True)
        )
        if inserted:
            return _from_row(inserted[0]), True
        existing = self.get(record.run_key, record.attempt)
        assert existing is not None
        return existing, False

    def update(self, run_key: str, attempt: int, changes: RunChanges) -> None:
        self._patch(run_key, attempt, {**_columns(changes), "updated_at": now().isoformat()})

    def advance(self, run_key: str, attempt: int, state: RunState, changes: RunChanges | None = None) -> bool:
        moment = now().isoformat()
        values = {
            **_columns(changes or RunChanges()),
            "state": state.value,
            "state_rank": state.rank,
            "updated_at": moment,
            f"{state.value}_at": moment,
        }
        return bool(self._patch(run_key, attempt, values, state_rank=("lt", state.rank)))

    def put(self, record: RunRecord) -> None:
        """Mirror a whole record read from another store; an older copy never overwrites a newer one.

        Two conditional writes, each atomic: insert if absent, else overwrite if not newer here.
        """
        values = row(record)
        inserted = self._execute(self._runs().upsert(values, on_conflict="run_key,attempt", ignore_duplicates=True))
        if not inserted:
            guard = {"updated_at": ("lte", record.updated_at.isoformat())} if record.updated_at else {}
            values.setdefault("extra", None)  # the copy is whole: fields it no longer has go
            self._patch(record.run_key, record.attempt, values, **guard)

    def _select(self, table: str = "runs") -> Any:
        return self._client.table(table).select("*")

    def _records(self, request: Any) -> list[RunRecord]:
        return [_from_row(found) for found in self._execute(request)]

    def _listed(self, request: Any) -> list[RunRecord]:
        """Rows of a listing: one row another writer left incomplete is logged and skipped, so it cannot
        stop the reconciler or a report from seeing every other run (reading it by key still raises)."""
        listed = []
        for found in self._execute(request):
            try:
                listed.append(_from_row(found))
            except InvalidRecord as exc:
                logs.error("skipped an invalid run record", store="supabase", error=str(exc))
        return listed

    def get(self, run_key: str, attempt: int = 1) -> RunRecord | None:
        found = self._records(self._select().eq("run_key", run_key).eq("attempt", attempt).limit(1))
        return found[0] if found else None

    def attempts(self, run_key: str) -> list[RunRecord]:
        return self._records(self._select().eq("run_key", run_key).order("attempt"))

    def find_by_job_id(self, job_id: str) -> RunRecord | None:
        found = self._records(self._select().eq("job_id", job_id).limit(1))
        return found[0] if found else None

    def latest_runs(self, limit: int = 20) -> list[RunRecord]:
        return self._listed(self._select().order("requested_at", desc=True).limit(limit))

    def open_runs(self, requested_before: datetime) -> list[RunRecord]:
        request = self._select().lt("state_rank", TERMINAL_RANK).lt("requested_at", requested_before.isoformat())
        return self._listed(request.order("requested_at"))

    def cost_by_gpu(self, start: datetime, end: datetime) -> list[GpuCost]:
        params = {"period_start": start.isoformat(), "period_end": end.isoformat()}
        return [GpuCost.model_validate(found) for found in self._execute(self._client.rpc("run_costs", params))]

    def fallbacks_since(self, since: datetime) -> list[RunRecord]:
        """Finished attempts that called for a next attempt (`next_attempt`), updated since `since`."""
        request = (
            self._select().eq("state_rank", TERMINAL_RANK).gt("next_attempt", 1).gte("updated_at", since.isoformat())
        )
        return self._listed(request)

    def unannounced_since(self, since: datetime) -> list[RunRecord]:
        """Terminal attempts claimed since `since` whose Slack message never went out (`notified_state` "":
        a terminal state never changes, so a sent message always names it)."""
        request = (
            self._select()
            .eq("state_rank", TERMINAL_RANK)
            .eq("notified_state", "")
            .gte("requested_at", since.isoformat())
        )
        return self._listed(request)

    def claim_notification(self, run_key: str, attempt: int, state: RunState, lease_seconds: int = 120) -> bool:
        moment = time.time()
        changed = self._patch(
            run_key,
            attempt,
            {"notify_lease_until": moment + lease_seconds},
            notified_state=("neq", state.value),
            notify_lease_until=("lt", moment),
        )
        return bool(changed)

    def finish_notification(self, run_key: str, attempt: int, state: RunState, sent: bool) -> None:
        values: dict[str, Any] = {"notify_lease_until": 0.0, "updated_at": now().isoformat()}
        if sent:
            values.update({"notified_state": state.value, "notified_at": now().isoformat()})
        self._patch(run_key, attempt, values)

    def replace_predictions(self, run_key: str, attempt: int, rows: list[Prediction]) -> None:
        """Upsert (merge-duplicates) on the primary key, then delete the rows other attempts left."""
        table = self._client.table("predictions")
        if rows:
            payload = [{**p.model_dump(mode="json"), "run_key": run_key, "attempt": attempt} for p in rows]
            self._execute(table.upsert(payload, on_conflict="run_key,symbol,target_date"))
        self._execute(self._client.table("predictions").delete().eq("run_key", run_key).neq("attempt", attempt))

    def predictions(self, run_key: str) -> list[Prediction]:
        request = self._select("predictions").eq("run_key", run_key).order("symbol").order("target_date")
        return [Prediction.model_validate(found) for found in self._execute(request)]

    def latest_predictions(self) -> list[Prediction]:
        rows = self._execute(self._select("latest_predictions").order("symbol"))
        return [Prediction.model_validate(found) for found in rows]

    def record_rejected_event(self, function: str, reason_code: str, detail: dict[str, Any]) -> None:
        values = {"function": function, "reason_code": reason_code}
        values.update({key: str(detail[key]) for key in ("event_id", "error") if detail.get(key) is not None})
        self._execute(self._client.table("rejected_events").insert(values))


def _columns(changes: RunChanges) -> dict[str, Any]:
    """The columns a change sets, as JSON (a cleared field is `null`)."""
    return changes.model_dump(mode="json", include=changes.model_fields_set)
