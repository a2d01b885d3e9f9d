"""A run's lifecycle: a monotonic state machine fed by Vertex AI job states.

Events arrive late, twice and out of order; a state only moves forward (by rank), and the move into a
terminal state happens once. The table below is the whole contract.

    requested → queued → pending → running → succeeded | failed | cancelled | expired
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.runs.failures import FailureClass, classify

SCHEMA_VERSION = 1


class RunState(StrEnum):
    REQUESTED = "requested"  # claimed by the submit function, job not created yet
    QUEUED = "queued"
    PENDING = "pending"  # waiting for DWS capacity
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # the FLEX_START max wait passed before capacity appeared

    @property
    def rank(self) -> int:
        return _RANK[self]

    def is_terminal(self) -> bool:
        return self.rank == _TERMINAL_RANK

    def can_move_to(self, other: RunState) -> bool:
        return other.rank > self.rank


_TERMINAL_RANK = 9
_RANK = {
    RunState.REQUESTED: 0,
    RunState.QUEUED: 1,
    RunState.PENDING: 2,
    RunState.RUNNING: 3,
    RunState.SUCCEEDED: _TERMINAL_RANK,
    RunState.FAILED: _TERMINAL_RANK,
    RunState.CANCELLED: _TERMINAL_RANK,
    RunState.EXPIRED: _TERMINAL_RANK,
}

# Vertex AI JobState names → our states. CANCELLING is still running until it is CANCELLED.
_FROM_VERTEX = {
    "JOB_STATE_QUEUED": RunState.QUEUED,
    "JOB_STATE_PENDING": RunState.PENDING,
    "JOB_STATE_RUNNING": RunState.RUNNING,
    "JOB_STATE_CANCELLING": RunState.RUNNING,
    "JOB_STATE_UPDATING": RunState.RUNNING,
    "JOB_STATE_SUCCEEDED": RunState.SUCCEEDED,
    "JOB_STATE_PARTIALLY_SUCCEEDED": RunState.FAILED,
    "JOB_STATE_FAILED": RunState.FAILED,
    "JOB_STATE_CANCELLED": RunState.CANCELLED,
    "JOB_STATE_EXPIRED": RunState.EXPIRED,
}


def from_vertex(job_state_name: str, error_message: str = "", error_code: int | None = None) -> RunState | None:
    """Our state for a Vertex JobState name; None for states we don't track (unspecified, paused).

    A FLEX_START job whose max wait passed may end JOB_STATE_FAILED with an error: it is `expired`
    when the failure classifier says so.
    """
    state = _FROM_VERTEX.get(job_state_name)
    if state is RunState.FAILED and error_message:
        if classify(error_message, rpc_code=error_code) is FailureClass.CAPACITY_WAIT_EXPIRED:
            return RunState.EXPIRED
    return state


def history(record: dict[str, Any]) -> list[tuple[RunState, datetime]]:
    """The states a run record went through, in order, from its `<state>_at` fields."""
    seen = [
        (state, record[f"{state.value}_at"])
        for state in RunState
        if isinstance(record.get(f"{state.value}_at"), datetime)
    ]
    return sorted(seen, key=lambda item: (item[1], item[0].rank))
