"""Failure diagnosis: each known failure gets its class and a one-line hint a person can act on."""

from __future__ import annotations

import pytest

from local.standins.vertex import messages
from shared.runs.failures import classify_failure


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (messages.replica_exit(127, "p", "1"), "python_not_found"),
        (messages.flex_start_expired("us-central1", "NVIDIA_L4", "1800s"), "capacity_wait_expired"),
        (messages.stockout("us-central1"), "stockout"),
        ("Quota metrics exceed quota limits: custom_model_training_preemptible_nvidia_l4_gpus", "quota_exceeded"),
        (messages.replica_exit(137, "p", "1"), "out_of_memory"),
        ("ResourceExhausted: OOM when allocating tensor with shape[4096,4096]", "out_of_memory"),
        (messages.timed_out("3600s"), "timeout"),
        ("Permission 'storage.objects.create' denied on resource (or it may not exist). 403", "credentials"),
        ("ModuleNotFoundError: No module named 'flexrun_trainer'", "package_import_error"),
        (messages.replica_exit(1, "p", "1"), "trainer_error"),
        ("something nobody has seen before", "unknown"),
    ],
)
def test_each_known_failure_is_classified_with_a_hint(text: str, expected: str):
    failure_class, hint = classify_failure(text)
    assert failure_class == expected
    assert hint and "\n" not in hint and len(hint) < 200


def test_the_log_line_that_woke_us_refines_a_generic_job_error():
    generic = messages.replica_exit(1, "p", "1")
    assert classify_failure(generic, "ImportError: cannot import name 'x'")[0] == "package_import_error"
