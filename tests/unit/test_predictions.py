"""predictions.json and metrics.json (trainer schema version 1) → prediction rows and the metrics summary."""

from __future__ import annotations

import pytest

from shared.runs.trainer_outputs import metrics_summary, prediction_rows

DOCUMENT = {
    "schema_version": 1, "package_version": "0.1.0", "generated_at": "2026-11-27T10:30:00+00:00", "model": "gru",
    "horizon_days": 1,
    "predictions": [{"symbol": "SPX", "last_date": "2017-11-10", "target_date": "2017-11-13", "last_close": 2582.3,
                     "predicted_close": 2584.06, "predicted_return": 0.00068,
                     "baselines": {"naive_last_value": 2582.3, "moving_average": 2588.61}}],
}  # fmt: skip


def test_each_forecast_becomes_a_row_with_the_model_and_its_version():
    (row,) = prediction_rows(DOCUMENT)
    assert (row.symbol, row.target_date, row.predicted_close) == ("SPX", "2017-11-13", 2584.06)
    assert (row.model, row.package_version) == ("gru", "0.1.0")


@pytest.mark.parametrize(
    "broken",
    [
        {**DOCUMENT, "schema_version": 2},
        {**DOCUMENT, "predictions": [{"symbol": "SPX"}]},
        {**DOCUMENT, "predictions": [{"symbol": "SPX", "target_date": "2017-11-13", "predicted_close": "high"}]},
        ["not", "an", "object"],
    ],
)
def test_a_malformed_predictions_file_is_refused_with_a_reason(broken):
    with pytest.raises(ValueError):
        prediction_rows(broken)


def test_the_summary_puts_the_model_next_to_its_baselines():
    block = {"model": {"rmse": 1.0, "mae": 2.0, "mape": 3.0, "directional_accuracy": 0.6, "ignored": 9},
             "naive_last_value": {"rmse": 1.1}, "samples": 10}  # fmt: skip
    summary = metrics_summary({"evaluation": {"overall": block, "model_beats_naive": {"rmse": True}}})
    assert summary["model"] == {"rmse": 1.0, "mae": 2.0, "mape": 3.0, "directional_accuracy": 0.6}
    assert summary["naive_last_value"] == {"rmse": 1.1} and summary["model_beats_naive"] == {"rmse": True}
    assert metrics_summary({"schema_version": 1}) is None


def test_a_schema_2_summary_carries_the_edge_verdicts_and_their_tests():
    test = {"measure": "squared_return_error", "gain": 0.01, "ci95": [-0.01, 0.03], "p_value": 0.31, "edge": False}
    block = {"model": {"rmse_return": 0.007, "mase": 0.57, "directional_accuracy": 0.56},
             "naive_last_value": {"rmse_return": 0.0072, "mase": 0.58},
             "tests": {"naive_last_value": test}}  # fmt: skip
    evaluation = {"overall": block, "edge": {"naive_last_value": False},
                  "verdict": "no significant edge over naive last value"}  # fmt: skip
    summary = metrics_summary({"schema_version": 2, "evaluation": evaluation})
    assert summary["main_metric"] == "rmse_return" and summary["edge"] == {"naive_last_value": False}
    assert summary["tests"]["naive_last_value"] == {"gain": 0.01, "ci95": [-0.01, 0.03], "p_value": 0.31, "edge": False}
    assert summary["verdict"] == "no significant edge over naive last value"
