"""The capacity fallback chain: steps parsed from config, resolved per attempt, and when to move on."""

from __future__ import annotations

import pytest

from shared.errors import ConfigurationError, InvalidRunRequest
from shared.runs.failures import CAPACITY
from shared.runs.fallback import (
    Resolved,
    Step,
    configured_chain,
    next_step,
    parse_chain,
    resolve_chain,
)
from shared.runs.record import RunRecord
from tests.records import a_record

CAPACITY_FAILURES = frozenset(CAPACITY)
FIRST = Resolved("NVIDIA_L4", 1, "g2-standard-4", "us-central1", "FLEX_START", 1800)
CHAIN = "L4@us-central1:FLEX_START, L4@us-east4:FLEX_START, A100@us-central1:FLEX_START~2h, L4:SPOT, STANDARD"


def test_the_issue_example_chain_resolves_step_by_step():
    steps = resolve_chain(FIRST, parse_chain(CHAIN))
    assert [s.label for s in steps] == [
        "1x NVIDIA_L4 on g2-standard-4 @ us-central1 FLEX_START max wait 1800s",
        "1x NVIDIA_L4 on g2-standard-4 @ us-east4 FLEX_START max wait 1800s",
        "1x NVIDIA_TESLA_A100 on a2-highgpu-1g @ us-central1 FLEX_START max wait 7200s",
        "1x NVIDIA_L4 on g2-standard-4 @ us-central1 SPOT",
        "1x NVIDIA_L4 on g2-standard-4 @ us-central1 STANDARD",
    ]


def test_json_list_and_json_file_give_the_same_chain(tmp_path):
    as_json = '["L4@us-central1:FLEX_START", {"region": "us-east4"}, "STANDARD"]'
    path = tmp_path / "chain.json"
    path.write_text(as_json)
    assert parse_chain(as_json) == parse_chain(str(path))
    assert parse_chain(as_json)[1] == Step(region="us-east4")


def test_fall_back_to_on_demand_after_a_wait_is_two_steps():
    steps = resolve_chain(FIRST, parse_chain("L4:FLEX_START~30m > STANDARD"))
    assert (steps[1].strategy, steps[1].gpu_type, steps[1].region) == ("STANDARD", "NVIDIA_L4", "us-central1")


def test_price_order_keeps_the_first_step_and_sorts_the_rest():
    steps = resolve_chain(FIRST, parse_chain("L4, H100x8:STANDARD, A100:FLEX_START, T4:STANDARD"), order="price")
    assert [s.gpu_type for s in steps] == ["NVIDIA_L4", "NVIDIA_TESLA_T4", "NVIDIA_TESLA_A100", "NVIDIA_H100_80GB"]


@pytest.mark.parametrize("text", ["L4@nowhere", "L4:SOMETIMES", "L4x2:FLEX_START~soon"])
def test_a_bad_configured_chain_names_the_setting(text):
    with pytest.raises(ConfigurationError, match="FLEXRUN_FALLBACK_CHAIN"):
        configured_chain(text)


def test_a_step_vertex_would_refuse_is_refused_before_any_call():
    with pytest.raises(InvalidRunRequest, match="does not serve"):
        resolve_chain(FIRST, parse_chain("L4, T4:FLEX_START"))
    with pytest.raises(InvalidRunRequest, match="carries 1"):
        resolve_chain(FIRST, parse_chain("L4, L4x2/g2-standard-4"))


def record(
    state: str, attempt: int = 1, message: str = "", failure_class: str | None = None, steps: int = 2
) -> RunRecord:
    return a_record(
        attempt=attempt,
        state=state,
        chain=[FIRST.as_dict()] * steps,
        error={"message": message},
        failure_class=failure_class,
    )


@pytest.mark.parametrize(
    "state, message, reason",
    [
        ("expired", "The job waited the maximum wait duration (2s)", "capacity_wait_expired"),
        ("failed", "Resources are insufficient in region: us-central1. Please try a different region.", "stockout"),
        (
            "failed",
            "The following quota metrics exceed quota limits: custom_model_training_nvidia_l4",
            "quota_exceeded",
        ),
    ],
)
def test_capacity_failures_move_to_the_next_attempt(state, message, reason):
    assert next_step(record(state, message=message), CAPACITY_FAILURES, 5) == (2, FIRST, reason)


@pytest.mark.parametrize(
    "run",
    [
        record("failed", message="The replica workerpool0-0 exited with a non-zero status of 1."),
        record("succeeded"),
        record("cancelled"),
        record("expired", attempt=2),  # the chain is used up
    ],
)
def test_other_endings_and_the_last_step_end_the_run(run):
    assert next_step(run, CAPACITY_FAILURES, 5) is None


def test_attempts_are_bounded_by_max_attempts():
    assert next_step(record("expired", attempt=2, steps=5), CAPACITY_FAILURES, 2) is None
    assert next_step(record("expired", steps=5), frozenset({"stockout"}), 5) is None
