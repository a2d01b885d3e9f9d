"""The run state machine only moves forward, and maps Vertex states faithfully."""

from __future__ import annotations

from shared.runs.states import RunState, from_vertex


def test_states_only_move_forward():
    assert RunState.QUEUED.can_move_to(RunState.RUNNING)
    assert not RunState.RUNNING.can_move_to(RunState.PENDING)
    assert not RunState.SUCCEEDED.can_move_to(RunState.FAILED)


def test_terminal_states_are_terminal():
    assert {s for s in RunState if s.is_terminal()} == {
        RunState.SUCCEEDED,
        RunState.FAILED,
        RunState.CANCELLED,
        RunState.EXPIRED,
    }


def test_vertex_states_map_to_run_states():
    assert from_vertex("JOB_STATE_PENDING") is RunState.PENDING
    assert from_vertex("JOB_STATE_CANCELLING") is RunState.RUNNING
    assert from_vertex("JOB_STATE_UNSPECIFIED") is None


def test_a_failure_because_the_max_wait_passed_is_an_expiry():
    assert from_vertex("JOB_STATE_FAILED", "Job did not start within the max wait duration") is RunState.EXPIRED
    assert from_vertex("JOB_STATE_FAILED", "exited with a non-zero status of 1") is RunState.FAILED
