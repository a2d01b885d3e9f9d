"""The run state machine: one set of terminal states, and Vertex states mapped faithfully."""

from __future__ import annotations

from shared.runs.states import TERMINAL_STATES, RunState, from_vertex


def test_terminal_states_are_terminal():
    assert (
        {s for s in RunState if s.is_terminal()}
        == TERMINAL_STATES
        == {
            RunState.SUCCEEDED,
            RunState.FAILED,
            RunState.CANCELLED,
            RunState.EXPIRED,
        }
    )


def test_vertex_states_map_to_run_states():
    assert from_vertex("JOB_STATE_PENDING") is RunState.PENDING
    assert from_vertex("JOB_STATE_CANCELLING") is RunState.RUNNING
    assert from_vertex("JOB_STATE_UNSPECIFIED") is None


def test_a_failure_because_the_max_wait_passed_is_an_expiry():
    assert from_vertex("JOB_STATE_FAILED", "Job did not start within the max wait duration") is RunState.EXPIRED
    assert from_vertex("JOB_STATE_FAILED", "exited with a non-zero status of 1") is RunState.FAILED
