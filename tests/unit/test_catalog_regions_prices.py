"""The GPU catalog's regions, capacity notes, quota metrics and per-strategy prices."""

from __future__ import annotations

import pytest

from shared.errors import InvalidRunRequest
from shared.jobs import catalog
from shared.quotas.metrics import quota_need
from shared.runs import fallback

FIRST = fallback.Resolved(
    gpu_type="NVIDIA_L4", gpu_count=1, machine_type="g2-standard-4", region="us-central1",
    strategy="FLEX_START", max_wait=1800,
)  # fmt: skip


def test_a_chain_with_a_step_to_a_region_without_its_gpu_is_refused_naming_the_region_and_those_that_have_it():
    steps = fallback.parse_chain("L4@us-central1:FLEX_START, L4@us-west2:FLEX_START")
    with pytest.raises(InvalidRunRequest) as refused:
        fallback.resolve_chain(FIRST, steps)
    message = str(refused.value)
    assert "us-west2 does not offer NVIDIA_L4" in message
    assert "us-central1, us-east1, us-east4, us-west1" in message


def test_a_region_the_catalog_does_not_cover_is_not_judged():
    assert catalog.region_offers("NVIDIA_L4", "europe-west4") is None
    assert catalog.region_offers("NVIDIA_H200_141GB", "us-central1") is None  # regions unknown
    assert catalog.region_offers("NVIDIA_L4", "us-east4") is True
    fallback.resolve_chain(FIRST, fallback.parse_chain("L4@us-central1, L4@europe-west4, H200x8@us-west2:SPOT"))


def test_h200_b200_and_h100_mega_are_marked_as_doubtful_on_demand():
    doubtful = {name for name, entry in catalog.load_catalog()["gpus"].items() if not entry["on_demand_realistic"]}
    assert doubtful == {"NVIDIA_H200_141GB", "NVIDIA_B200", "NVIDIA_H100_MEGA_80GB"}


@pytest.mark.parametrize("gpu", sorted(catalog.load_catalog()["gpus"]))
def test_the_catalogs_quota_metrics_are_vertex_ones_and_those_the_quota_check_asks_for(gpu):
    entry = catalog.load_catalog()["gpus"][gpu]
    assert entry["quota_metric"] == quota_need(gpu, 1, "us-central1", "STANDARD").metric
    assert entry["preemptible_quota_metric"] == quota_need(gpu, 1, "us-central1", "FLEX_START").metric
    assert "_preemptible_" in entry["preemptible_quota_metric"]
    assert entry["quota_metric"].startswith("aiplatform.googleapis.com/custom_model_training_")


def test_every_machine_has_a_price_entry_per_strategy():
    for gpu, entry in catalog.load_catalog()["gpus"].items():
        assert set(entry["prices"]) == set(entry["machines"]), gpu
        for prices in entry["prices"].values():
            assert set(prices) == {"STANDARD", "SPOT", "FLEX_START"}


def test_an_attempt_is_priced_by_its_strategy_never_by_the_on_demand_price_for_dws_or_spot():
    assert catalog.attempt_price_per_hour("NVIDIA_TESLA_A100", "a2-highgpu-2g", 2, "STANDARD") == 6.0
    assert catalog.attempt_price_per_hour("NVIDIA_TESLA_A100", "a2-highgpu-2g", 2, "FLEX_START") is None
    assert catalog.attempt_price_per_hour("NVIDIA_TESLA_A100", "a2-highgpu-2g", 2, "SPOT") is None
    assert catalog.attempt_price_per_hour("NVIDIA_A100_80GB", "a2-ultragpu-1g", 1, "STANDARD") is None


def test_a_machines_own_strategy_price_wins(monkeypatch):
    data = catalog.load_catalog()
    prices = data["gpus"]["NVIDIA_L4"]["prices"]["g2-standard-4"]
    monkeypatch.setitem(prices, "FLEX_START", 0.42)
    monkeypatch.setitem(prices, "STANDARD", 0.71)
    assert catalog.attempt_price_per_hour("L4", "g2-standard-4", 1, "FLEX_START") == 0.42
    assert catalog.attempt_price_per_hour("L4", "g2-standard-4", 1, "STANDARD") == 0.71
