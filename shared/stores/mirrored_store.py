"""Both stores configured: the primary decides, each mirror holds a copy of every record it decided.

Guards (state rank, notification lease) run in the primary alone, so there is one decision per event.
After every write the primary's record is copied whole into each mirror (`put`, which never lets an
older copy overwrite a newer one). A mirror that is down fails the event, and the trigger's retry
copies the record again: the mirrors catch up without a second decision or a second Slack message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from shared.runs.record import GpuCost, Prediction, RunChanges, RunRecord
from shared.runs.states import RunState
from shared.stores.base import RunStore


class Mirror(RunStore, Protocol):
    def put(self, record: RunRecord) -> None: ...


class MirroredRunStore:
    def __init__(self, primary: RunStore, mirrors: list[Mirror]) -> None:
        self.primary, self.mirrors = primary, mirrors

    def _mirror(self, run_key: str, attempt: int) -> None:
        record = self.primary.get(run_key, attempt)
        if record is not None:
            for mirror in self.mirrors:
                mirror.put(record)

    def claim(self, record: RunRecord) -> tuple[RunRecord, bool]:
        claimed, created = self.primary.claim(record)
        self._mirror(record.run_key, record.attempt)
        return claimed, created

    def update(self, run_key: str, attempt: int, changes: RunChanges) -> None:
        self.primary.update(run_key, attempt, changes)
        self._mirror(run_key, attempt)

    def advance(self, run_key: str, attempt: int, state: RunState, changes: RunChanges | None = None) -> bool:
        moved = self.primary.advance(run_key, attempt, state, changes)
        self._mirror(run_key, attempt)  # also when unchanged: a retry repairs a mirror that was down
        return moved

    def claim_notification(self, run_key: str, attempt: int, state: RunState, lease_seconds: int = 120) -> bool:
        return self.primary.claim_notification(run_key, attempt, state, lease_seconds)

    def finish_notification(self, run_key: str, attempt: int, state: RunState, sent: bool) -> None:
        self.primary.finish_notification(run_key, attempt, state, sent)
        self._mirror(run_key, attempt)

    def replace_predictions(self, run_key: str, attempt: int, rows: list[Prediction]) -> None:
        for store in (self.primary, *self.mirrors):
            store.replace_predictions(run_key, attempt, rows)

    def record_rejected_event(self, function: str, reason_code: str, detail: dict[str, Any]) -> None:
        for store in (self.primary, *self.mirrors):
            store.record_rejected_event(function, reason_code, detail)

    # Reads: the primary is the record of truth.
    def get(self, run_key: str, attempt: int = 1) -> RunRecord | None:
        return self.primary.get(run_key, attempt)

    def attempts(self, run_key: str) -> list[RunRecord]:
        return self.primary.attempts(run_key)

    def find_by_job_id(self, job_id: str) -> RunRecord | None:
        return self.primary.find_by_job_id(job_id)

    def latest_runs(self, limit: int = 20) -> list[RunRecord]:
        return self.primary.latest_runs(limit)

    def open_runs(self, requested_before: datetime) -> list[RunRecord]:
        return self.primary.open_runs(requested_before)

    def cost_by_gpu(self, start: datetime, end: datetime) -> list[GpuCost]:
        return self.primary.cost_by_gpu(start, end)

    def fallbacks_since(self, since: datetime) -> list[RunRecord]:
        return self.primary.fallbacks_since(since)

    def unannounced_since(self, since: datetime) -> list[RunRecord]:
        return self.primary.unannounced_since(since)

    def predictions(self, run_key: str) -> list[Prediction]:
        return self.primary.predictions(run_key)

    def latest_predictions(self) -> list[Prediction]:
        return self.primary.latest_predictions()
