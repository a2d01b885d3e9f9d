"""A run store in memory for the unit layer: the guards the real stores keep in the database (unique
claim, advance by rank, the notification lease), kept here under one lock, so a core's idempotency can
be tried in milliseconds. The real stores are held to the same contract in tests/integration/test_run_store.py."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from shared.runs.record import Prediction, RunChanges, RunRecord, now
from shared.runs.states import TERMINAL_RANK, RunState


class MemoryRunStore:
    def __init__(self) -> None:
        self.runs: dict[tuple[str, int], RunRecord] = {}
        self.rejected: list[tuple[str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def claim(self, record: RunRecord) -> tuple[RunRecord, bool]:
        with self._lock:
            key = (record.run_key, record.attempt)
            if key in self.runs:
                return self.runs[key], False
            moment = now()
            fresh = {"state": RunState.REQUESTED, "state_rank": 0, "requested_at": moment, "updated_at": moment,
                     "notified_state": "", "notify_lease_until": 0.0}  # fmt: skip
            claimed = record.model_copy(update=fresh)
            self.runs[key] = claimed
            return claimed, True

    def _set(self, run_key: str, attempt: int, **values: Any) -> None:
        key = (run_key, attempt)
        if key in self.runs:
            self.runs[key] = self.runs[key].model_copy(update={**values, "updated_at": now()})

    def update(self, run_key: str, attempt: int, changes: RunChanges) -> None:
        with self._lock:
            self._set(run_key, attempt, **changes.set_fields())

    def advance(self, run_key: str, attempt: int, state: RunState, changes: RunChanges | None = None) -> bool:
        with self._lock:
            current = self.runs.get((run_key, attempt))
            if current is None or current.state_rank >= state.rank:
                return False
            fields = (changes or RunChanges()).set_fields()
            self._set(run_key, attempt, **fields, state=state, state_rank=state.rank, **{f"{state.value}_at": now()})
            return True

    def get(self, run_key: str, attempt: int = 1) -> RunRecord | None:
        return self.runs.get((run_key, attempt))

    def attempts(self, run_key: str) -> list[RunRecord]:
        return sorted((r for r in self.runs.values() if r.run_key == run_key), key=lambda r: r.attempt)

    def find_by_job_id(self, job_id: str) -> RunRecord | None:
        return next((r for r in self.runs.values() if r.job_id == job_id), None)

    def open_runs(self, requested_before: datetime) -> list[RunRecord]:
        found = [r for r in self.runs.values() if r.state_rank < TERMINAL_RANK and r.requested_at
                 and r.requested_at < requested_before]  # fmt: skip
        return sorted(found, key=lambda r: r.requested_at or requested_before)

    def fallbacks_since(self, since: datetime) -> list[RunRecord]:
        return [r for r in self.runs.values() if r.is_terminal and (r.next_attempt or 0) > 1
                and r.updated_at and r.updated_at >= since]  # fmt: skip

    def unannounced_since(self, since: datetime) -> list[RunRecord]:
        return [r for r in self.runs.values() if r.is_terminal and not r.notified_state
                and r.requested_at and r.requested_at >= since]  # fmt: skip

    def claim_notification(self, run_key: str, attempt: int, state: RunState, lease_seconds: int = 120) -> bool:
        with self._lock:
            current = self.runs.get((run_key, attempt))
            moment = time.time()
            if current is None or current.notified_state == state.value or current.notify_lease_until >= moment:
                return False
            self._set(run_key, attempt, notify_lease_until=moment + lease_seconds)
            return True

    def finish_notification(self, run_key: str, attempt: int, state: RunState, sent: bool) -> None:
        with self._lock:
            sent_fields = {"notified_state": state.value, "notified_at": now()} if sent else {}
            self._set(run_key, attempt, notify_lease_until=0.0, **sent_fields)

    def replace_predictions(self, run_key: str, attempt: int, rows: list[Prediction]) -> None:
        raise NotImplementedError("no unit test stores forecasts")

    def predictions(self, run_key: str) -> list[Prediction]:
        return []

    def record_rejected_event(self, function: str, reason_code: str, detail: dict[str, Any]) -> None:
        self.rejected.append((function, reason_code, detail))
