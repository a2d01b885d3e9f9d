"""Run records as job-state stores them (trainer metrics.json schema 2 read by shared/runs/trainer_outputs.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.notify.figures import plain
from shared.runs.record import RunRecord
from shared.runs.trainer_outputs import metrics_summary

BLOCK = {
    "model": {"rmse_return": 0.0071, "mae_return": 0.0052, "mase": 0.572, "mape": 0.49, "directional_accuracy": 0.56},
    "naive_last_value": {"rmse_return": 0.0072, "mae_return": 0.0053, "mase": 0.580, "directional_accuracy": 0.47},
    "drift": {"rmse_return": 0.0071, "mase": 0.575, "directional_accuracy": 0.55},
    "moving_average": {"rmse_return": 0.0080, "mase": 0.640, "directional_accuracy": 0.50},
    "majority_direction": {"directional_accuracy": 0.55},
    "tests": {"moving_average": {"gain": 0.21, "ci95": [0.1, 0.3], "p_value": 0.001, "edge": True},
              "naive_last_value": {"gain": 0.01, "ci95": [-0.01, 0.03], "p_value": 0.31, "edge": False}},
}  # fmt: skip
EVALUATION = {
    "overall": BLOCK,
    "edge": {"naive_last_value": False, "drift": False, "moving_average": True, "majority_direction": False},
    "verdict": "significant edge over moving average; no significant edge over naive last value, drift, "
    "majority direction",
}
OUT = "gs://flexrun-runs/runs/nightly-1/attempt-1/model/"


def record(run_key: str = "nightly-1", day: int = 0, **changes: Any) -> dict[str, Any]:
    """A record as the views read it (shared/notify/figures.plain of the stored RunRecord)."""
    return plain(typed(run_key, day, **changes))


def _fields(run_key: str, day: int) -> dict[str, Any]:
    requested = datetime(2026, 11, 27, 22, 0, tzinfo=UTC) + timedelta(days=day)
    base: dict[str, Any] = {
        "run_key": run_key, "attempt": 1, "state": "succeeded", "package_version": "0.2.0",
        "job_name": "projects/demo-project/locations/us-central1/customJobs/4711",
        "job_id": "4711", "gpu_type": "NVIDIA_L4", "gpu_count": 1, "machine_type": "g2-standard-8",
        "region": "us-central1", "strategy": "FLEX_START", "requested_at": requested,
        "running_at": requested + timedelta(minutes=4), "ended_at": requested + timedelta(minutes=5),
        "wait_seconds": 240.0, "run_seconds": 62.0, "usd_per_gpu_hour": 0.3, "estimated_cost_usd": 0.0052,
        "output_uri": OUT.removesuffix("model/"), "metrics_summary": metrics_summary({"schema_version": 2,
        "evaluation": EVALUATION}), "plot_uri": OUT + "forecast.png", "predictions_uri": OUT + "predictions.json",
        "model_uri": OUT + "model.keras", "prediction_count": 3, "outputs_complete": True,
        "correlation_id": "c-1", "package_uri": "gs://flexrun-packages/trainer-0.2.0.tar.gz",
        "package_sha256": "0" * 64, "timeout_seconds": 1200, "max_wait_seconds": 600, "step_label": "L4:FLEX_START",
    }  # fmt: skip
    return base


def typed(run_key: str = "nightly-1", day: int = 0, **changes: Any) -> RunRecord:
    """The record as the stores hand it back (validated: the sample cannot drift from the model)."""
    return RunRecord.model_validate({**_fields(run_key, day), **changes})


def predictions(run_key: str = "nightly-1") -> list[dict[str, Any]]:
    rows = [("SPX", 2582.3, 2584.06), ("IXIC", 6750.9, 6731.2), ("MSFT", 84.09, 84.51)]
    return [
        {"run_key": run_key, "attempt": 1, "symbol": symbol, "target_date": "2017-11-13", "last_date": "2017-11-10",
         "last_close": last, "predicted_close": predicted, "predicted_return": predicted / last - 1}
        for symbol, last, predicted in rows
    ]  # fmt: skip
