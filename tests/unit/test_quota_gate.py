"""Which fallback steps the quota snapshot blocks: only a known limit below the GPU count does."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared.quotas.gate import blocked_by_quota, split_runnable, usable_snapshot
from shared.quotas.metrics import quota_need
from shared.quotas.snapshot import MetricLimits, QuotaSnapshot
from shared.runs.fallback import Resolved

L4_DWS = "aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_l4_gpus"
NOW = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)


def _step(region: str, strategy: str = "FLEX_START", gpu: str = "NVIDIA_L4", count: int = 1) -> Resolved:
    return Resolved(gpu, count, "g2-standard-4", region, strategy, 1800)


def _snapshot(**regions: int) -> QuotaSnapshot:
    limits = MetricLimits(
        quota_id="L4Preemptible", default=4, regions={k.replace("_", "-"): v for k, v in regions.items()}
    )
    return QuotaSnapshot(project="p", taken_at=NOW, metrics={L4_DWS: limits})


def test_dws_and_spot_consume_the_preemptible_quota_and_standard_the_on_demand_one():
    assert quota_need("L4", 1, "us-east4", "FLEX_START").metric == L4_DWS
    assert quota_need("L4", 1, "us-east4", "SPOT").metric == L4_DWS
    assert quota_need("H100", 8, "us-east4", "STANDARD").metric.endswith("/custom_model_training_nvidia_h100_gpus")


def test_a_zero_limit_blocks_the_step_with_reason_and_request_page():
    blocked = blocked_by_quota(_step("us-east4"), _snapshot(us_east4=0))
    assert blocked is not None
    assert blocked.line.startswith("skipped L4 @ us-east4: preemptible L4 quota 0 — request it at https://console")
    assert "metric=custom_model_training_preemptible_nvidia_l4_gpus" in blocked.request_url


def test_a_region_without_its_own_entry_uses_the_default_and_a_limit_below_the_count_blocks():
    assert blocked_by_quota(_step("us-central1"), _snapshot(us_east4=0)) is None  # default 4
    assert blocked_by_quota(_step("us-central1", count=8), _snapshot()).reason == "preemptible L4 quota 4 < 8 GPUs"


def test_unknown_metric_unlimited_or_missing_snapshot_block_nothing():
    assert blocked_by_quota(_step("us-east4", strategy="STANDARD"), _snapshot(us_east4=0)) is None
    assert blocked_by_quota(_step("us-east4"), _snapshot(us_east4=-1)) is None
    assert blocked_by_quota(_step("us-east4"), None) is None


def test_a_stale_snapshot_is_not_planned_with():
    snapshot = _snapshot(us_east4=0)
    assert usable_snapshot(snapshot, 3600, NOW + timedelta(minutes=59)) is snapshot
    assert usable_snapshot(snapshot, 3600, NOW + timedelta(minutes=61)) is None


def test_split_keeps_the_order_of_the_runnable_steps():
    steps = [_step("us-east4"), _step("us-central1"), _step("us-west1", strategy="SPOT")]
    runnable, skipped = split_runnable(steps, _snapshot(us_east4=0, us_west1=0))
    assert runnable == [steps[1]]
    assert [s.region for s in skipped] == ["us-east4", "us-west1"]


def test_every_replica_holds_the_steps_gpus():
    assert blocked_by_quota(_step("us-central1", count=2), _snapshot(), replicas=2) is None  # 4 GPUs of 4
    blocked = blocked_by_quota(_step("us-central1", count=2), _snapshot(), replicas=3)
    assert blocked is not None and blocked.reason == "preemptible L4 quota 4 < 6 GPUs"
