"""What an attempt and a run cost: GPU time at the catalog's hourly price, summed over the run's attempts."""

from __future__ import annotations

from shared.jobs import catalog
from shared.runs import cost
from tests.records import a_record


def test_an_attempt_costs_its_run_time_times_its_gpus_hourly_price():
    attempt = a_record(gpu_type="NVIDIA_TESLA_A100", gpu_count=2, machine_type="a2-highgpu-2g", strategy="STANDARD")
    changes = cost.attempt_cost(attempt, 1800)
    assert (changes.usd_per_gpu_hour, changes.estimated_cost_usd) == (3.0, 3.0)
    assert cost.attempt_cost(attempt, None).set_fields() == {"usd_per_gpu_hour": 3.0}  # not ended yet


def test_a_gpu_the_catalog_has_no_price_for_has_no_cost_rather_than_a_guess():
    attempt = a_record(gpu_type="NVIDIA_A100_80GB", machine_type="a2-ultragpu-1g")
    assert catalog.attempt_price_per_hour("NVIDIA_A100_80GB", "a2-ultragpu-1g", 1, "FLEX_START") is None
    assert cost.attempt_cost(attempt, 1800).set_fields() == {}


def test_a_runs_total_adds_every_other_attempt_of_its_run_key():
    first, second = a_record(attempt=1, estimated_cost_usd=0.25), a_record(attempt=2)
    assert cost.run_total(second, 0.5, [first, second]) == 0.75
    assert cost.run_total(first, None, [first]) is None
