"""Failure classification: codes first, then one text table; every caller gets the same class."""

from __future__ import annotations

import pytest

from local.standins.vertex import messages
from shared.cloud import http
from shared.runs import failures
from shared.runs.failures import FailureClass, classify
from shared.runs.states import RunState, from_vertex


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (messages.replica_exit(127, "p", "1"), FailureClass.PYTHON_NOT_FOUND),
        (messages.flex_start_expired("us-central1", "NVIDIA_L4", "1800s"), FailureClass.CAPACITY_WAIT_EXPIRED),
        (messages.stockout("us-central1"), FailureClass.STOCKOUT),
        (
            "The following quota metrics exceed quota limits: aiplatform.googleapis.com/"
            "custom_model_training_preemptible_nvidia_l4_gpus",
            FailureClass.QUOTA_EXCEEDED,
        ),
        (messages.replica_exit(137, "p", "1"), FailureClass.OUT_OF_MEMORY),
        ("The replica workerpool0-0 ran out of memory and exited with a non-zero status of 1.", "out_of_memory"),
        ("ResourceExhausted: OOM when allocating tensor with shape[4096,4096]", FailureClass.OUT_OF_MEMORY),
        (messages.timed_out("3600s"), FailureClass.TIMEOUT),
        ("Permission 'storage.objects.create' denied on resource (or it may not exist).", "credentials"),
        ("ModuleNotFoundError: No module named 'flexrun_trainer'", FailureClass.PACKAGE_IMPORT_ERROR),
        (messages.replica_exit(3, "p", "1"), FailureClass.DATA_PROBLEM),
        (messages.replica_exit(2, "p", "1"), FailureClass.TRAINER_CONFIG),
        (messages.replica_exit(1, "p", "1"), FailureClass.TRAINER_ERROR),
        (messages.replica_exit(65, "p", "1"), FailureClass.PACKAGE_INSTALL),  # the launcher: sha256 mismatch
        (messages.replica_exit(78, "p", "1"), FailureClass.PACKAGE_INSTALL),  # the launcher: install refused
        ("something nobody has seen before", FailureClass.UNKNOWN),
    ],
)
def test_each_known_failure_is_classified_with_a_hint(text: str, expected: str):
    failure = classify(text)
    assert failure == expected
    assert failure.hint and "\n" not in failure.hint and len(failure.hint) < 200


def test_the_log_line_that_woke_us_refines_a_generic_job_error():
    generic = messages.replica_exit(1, "p", "1")
    assert classify(generic, "ImportError: cannot import name 'x'") is FailureClass.PACKAGE_IMPORT_ERROR


def test_codes_decide_before_text():
    # An exit code with one meaning wins over whatever the replica printed last.
    assert classify(messages.replica_exit(127, "p", "1"), "ImportError") is FailureClass.PYTHON_NOT_FOUND
    assert classify("anything", job_state="JOB_STATE_EXPIRED") is FailureClass.CAPACITY_WAIT_EXPIRED
    assert classify("", rpc_code=7) is FailureClass.CREDENTIALS
    assert classify("no text we know", rpc_code=8) is FailureClass.STOCKOUT
    assert classify("no text we know", rpc_code=4) is FailureClass.TIMEOUT


def test_no_capacity_hint_promises_a_fallback_step():
    # Whether a next step exists is the chain's decision; on the last step the hint must still be true.
    for failure in failures.CAPACITY:
        assert "tries the next" not in failure.hint


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (http.TooManyRequests("The following quota metrics exceed quota limits: x"), FailureClass.QUOTA_EXCEEDED),
        (
            http.TooManyRequests("The following quota metrics exceed quota limits: x", status="RESOURCE_EXHAUSTED"),
            FailureClass.QUOTA_EXCEEDED,
        ),
        (http.BadRequest(messages.stockout("us-east4")), FailureClass.STOCKOUT),
        (http.TooManyRequests("Rate limit exceeded, retry later"), None),  # a rate limit: retried, not capacity
        (http.BadRequest("acceleratorType is not supported"), None),
        (http.Forbidden("Permission 'aiplatform.customJobs.create' denied"), None),  # credentials: no fallback helps
        (OSError("connection refused"), None),
    ],
)
def test_a_create_refusal_is_capacity_only_when_google_says_quota_or_stock(exc: Exception, expected):
    assert failures.refusal(exc) == expected


def test_the_state_mapping_asks_the_classifier_for_an_expired_wait():
    expired = messages.flex_start_expired("us-central1", "NVIDIA_L4", "1800s")
    assert from_vertex("JOB_STATE_FAILED", expired, 8) is RunState.EXPIRED
    assert from_vertex("JOB_STATE_FAILED", messages.stockout("us-central1"), 8) is RunState.FAILED
    assert from_vertex("JOB_STATE_FAILED", messages.replica_exit(1, "p", "1"), 3) is RunState.FAILED
