"""A run's lifecycle: a monotonic state machine fed by Vertex AI job states.

Events arrive late, twice and out of order; a state only moves forward (by rank), and the move into a
terminal state happens once. The table below is the whole contract.

    requested → queued → pending → running → succeeded | failed | cancelled | expired

The move itself is one guarded write in the database, never read-then-write code: the stores'
`advance` (shared/stores/base.py) changes the record only where `state_rank < state.rank`, so a late or
repeated event for an earlier state changes nothing ("never backwards"). `TERMINAL_STATES` is the one
set of end states; everything else asks `RunState.is_terminal`.
"""

from __future__ import annotations

from enum import StrEnum

from shared.runs.failures import FailureClass, classify


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
        return self.rank == TERMINAL_RANK


TERMINAL_RANK = 9
_RANK = {
    RunState.REQUESTED: 0,
    RunState.QUEUED: 1,
    RunState.PENDING: 2,
    RunState.RUNNING: 3,
    RunState.SUCCEEDED: TERMINAL_RANK,
    RunState.FAILED: TERMINAL_RANK,
    RunState.CANCELLED: TERMINAL_RANK,
    RunState.EXPIRED: TERMINAL_RANK,
}
TERMINAL_STATES = frozenset(state for state in RunState if state.is_terminal())

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
