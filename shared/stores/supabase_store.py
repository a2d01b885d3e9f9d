"""The run store on Supabase: supabase-py over PostgREST, tables from supabase/migrations/.

Every conditional move is one PostgREST request whose filters carry the guard (a PATCH with
`state_rank=lt.N` changes no row when a newer state is already there), so the database decides, as
in the MongoDB store. Fields the migration has no column for are kept in the `extra` jsonb column.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from shared.errors import TransientError
from shared.runs.record import (
    FIELDS,
    PREDICTION_FIELDS,
    SCHEMA_VERSION,
    for_write,
    jsonable,
    normal_form,
    now,
    split_known,
)
from shared.runs.states import RunState

TERMINAL_RANK = RunState.SUCCEEDED.rank
_UNAVAILABLE = {"PGRST000", "PGRST001", "PGRST002", "PGRST003"}  # PostgREST: no database connection


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

    def _row(self, fields: dict[str, Any], extra_base: dict[str, Any] | None = None) -> dict[str, Any]:
        known, extra = split_known(jsonable(for_write(fields)))
        if extra:
            known["extra"] = {**(extra_base or {}), **extra}
        return known

    def _extra_of(self, run_key: str, attempt: int, fields: dict[str, Any]) -> dict[str, Any] | None:
        """The stored `extra` when `fields` adds to it (PostgREST has no jsonb merge in a PATCH)."""
        if all(key in FIELDS for key in fields):
            return None
        rows = self._execute(self._runs().select("extra").eq("run_key", run_key).eq("attempt", attempt).limit(1))
        return (rows[0].get("extra") if rows else None) or {}

    def _patch(self, run_key: str, attempt: int, fields: dict[str, Any], **guards: tuple[str, Any]) -> int:
        request = self._runs().update(self._row(fields, self._extra_of(run_key, attempt, fields)))
        request = request.eq("run_key", run_key).eq("attempt", attempt)
        for column, (operator, value) in guards.items():
            request = getattr(request, operator)(column, value)
        return len(self._execute(request))

    def claim(self, run_key: str, attempt: int, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Insert the run unless (run_key, attempt) exists: `resolution=ignore-duplicates` returns no row then."""
        moment = now()
        document = {
            "schema_version": SCHEMA_VERSION,
            "run_key": run_key,
            "attempt": attempt,
            "state": RunState.REQUESTED.value,
            "state_rank": RunState.REQUESTED.rank,
            "requested_at": moment,
            "updated_at": moment,
            "notified_state": "",
            "notify_lease_until": 0.0,
            **fields,
        }
        inserted = self._execute(
            self._runs().upsert(self._row(document), on_conflict="run_key,attempt", ignore_duplicates=True)
        )
        if inserted:
            return normal_form(inserted[0]), True  # type: ignore[return-value]
        existing = self.get(run_key, attempt)
        assert existing is not None
        return existing, False

    def attach_job(self, run_key: str, attempt: int, fields: dict[str, Any]) -> None:
        self.update_fields(run_key, attempt, fields)

    def advance(self, run_key: str, attempt: int, state: RunState, fields: dict[str, Any]) -> bool:
        moment = now()
        changes = {"state": state.value, "state_rank": state.rank, "updated_at": moment, f"{state.value}_at": moment}
        return bool(self._patch(run_key, attempt, {**changes, **fields}, state_rank=("lt", state.rank)))

    def update_fields(self, run_key: str, attempt: int, fields: dict[str, Any]) -> None:
        self._patch(run_key, attempt, {**fields, "updated_at": now()})

    def put(self, record: dict[str, Any]) -> None:
        """Mirror a whole record read from another store; an older copy never overwrites a newer one."""
        run_key, attempt = record["run_key"], record["attempt"]
        inserted = self._execute(
            self._runs().upsert(self._row(record), on_conflict="run_key,attempt", ignore_duplicates=True)
        )
        if not inserted:
            newer = record.get("updated_at")
            guard = {"updated_at": ("lte", newer.isoformat())} if isinstance(newer, datetime) else {}
            self._patch(run_key, attempt, record, **guard)

    def _select(self, table: str = "runs") -> Any:
        return self._client.table(table).select("*")

    def get(self, run_key: str, attempt: int = 1) -> dict[str, Any] | None:
        rows = self._execute(self._select().eq("run_key", run_key).eq("attempt", attempt).limit(1))
        return normal_form(rows[0]) if rows else None

    def attempts(self, run_key: str) -> list[dict[str, Any]]:
        return [normal_form(r) for r in self._execute(self._select().eq("run_key", run_key).order("attempt"))]  # type: ignore[misc]

    def find_by_job_id(self, job_id: str) -> dict[str, Any] | None:
        rows = self._execute(self._select().eq("job_id", job_id).limit(1))
        return normal_form(rows[0]) if rows else None

    def latest_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._execute(self._select().order("requested_at", desc=True).limit(limit))
        return [normal_form(r) for r in rows]  # type: ignore[misc]

    def open_runs(self, requested_before: datetime) -> list[dict[str, Any]]:
        request = self._select().lt("state_rank", TERMINAL_RANK).lt("requested_at", requested_before.isoformat())
        return [normal_form(r) for r in self._execute(request.order("requested_at"))]  # type: ignore[misc]

    def runs_ended_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        request = self._select().gte("ended_at", start.isoformat()).lt("ended_at", end.isoformat())
        return [normal_form(r) for r in self._execute(request.order("ended_at"))]  # type: ignore[misc]

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
        changes: dict[str, Any] = {"notify_lease_until": 0.0}
        if sent:
            changes.update({"notified_state": state.value, "notified_at": now()})
        self.update_fields(run_key, attempt, changes)

    def replace_predictions(self, run_key: str, attempt: int, rows: list[dict[str, Any]]) -> None:
        """Upsert (merge-duplicates) on the primary key, then delete the rows other attempts left."""
        table = self._client.table("predictions")
        if rows:
            payload = [
                {**split_known(jsonable(for_write(row)), PREDICTION_FIELDS)[0], "run_key": run_key, "attempt": attempt}
                for row in rows
            ]
            self._execute(table.upsert(payload, on_conflict="run_key,symbol,target_date"))
        self._execute(self._client.table("predictions").delete().eq("run_key", run_key).neq("attempt", attempt))

    def predictions(self, run_key: str) -> list[dict[str, Any]]:
        request = self._select("predictions").eq("run_key", run_key).order("symbol").order("target_date")
        return [normal_form(r, PREDICTION_FIELDS) for r in self._execute(request)]  # type: ignore[misc]

    def latest_predictions(self) -> list[dict[str, Any]]:
        rows = self._execute(self._select("latest_predictions").order("symbol"))
        return [normal_form(r, PREDICTION_FIELDS) for r in rows]  # type: ignore[misc]

    def record_rejected_event(self, function: str, reason_code: str, detail: dict[str, Any]) -> None:
        row = {"function": function, "reason_code": reason_code}
        row.update({key: str(detail[key]) for key in ("event_id", "error") if detail.get(key) is not None})
        self._execute(self._client.table("rejected_events").insert(row))
