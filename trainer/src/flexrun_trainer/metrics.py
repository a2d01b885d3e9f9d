"""Forecast errors of the model and of two baselines, side by side, per symbol and overall.

All errors are on the next-day close in price units (rmse, mae) or percent (mape). Directional
accuracy is the share of test days whose up/down move the forecast called right (a flat day counts as
"down"). Each forecast's direction:
- model: the sign of its predicted return;
- naive_last_value: its price forecast is "no change", which has no direction, so it calls the
  direction naively too: tomorrow moves the way today moved (persistence);
- moving_average: the sign of (moving average - last close), i.e. reversion toward the average.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flexrun_trainer.windows import Samples

FORECASTS = ("model", "naive_last_value", "moving_average")
METRICS = ("rmse", "mae", "mape", "directional_accuracy")


def errors(pred_close: np.ndarray, pred_up: np.ndarray, actual: np.ndarray, last: np.ndarray) -> dict[str, float]:
    err = pred_close - actual
    actual_up = actual > last
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "mape": float(np.mean(np.abs(err) / actual) * 100.0),
        "directional_accuracy": float(np.mean(pred_up == actual_up)),
    }


def forecasts(test: Samples, predicted_return: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(predicted close, predicted 'up') for every forecast on the test samples."""
    return {
        "model": (test.last_close * np.exp(predicted_return), predicted_return > 0),
        "naive_last_value": (test.last_close.copy(), test.prev_return > 0),
        "moving_average": (test.ma_close, test.ma_close > test.last_close),
    }


def _block(test: Samples, fc: dict[str, tuple[np.ndarray, np.ndarray]], mask: np.ndarray) -> dict[str, Any]:
    block: dict[str, Any] = {
        name: errors(close[mask], up[mask], test.target_close[mask], test.last_close[mask])
        for name, (close, up) in fc.items()
    }
    block["samples"] = int(mask.sum())
    block["up_day_share"] = float(np.mean(test.target_close[mask] > test.last_close[mask]))
    # How often the model calls "up": near 1.0 means it learned the drift, not day-to-day moves.
    block["model_up_call_share"] = float(np.mean(fc["model"][1][mask]))
    return block


def evaluate(test: Samples, predicted_return: np.ndarray) -> dict[str, Any]:
    fc = forecasts(test, predicted_return)
    overall = _block(test, fc, np.ones(len(test), dtype=bool))
    per_symbol = {str(s): _block(test, fc, test.symbol == s) for s in sorted(set(test.symbol))}
    beats = {m: _better(m, overall["model"][m], overall["naive_last_value"][m]) for m in METRICS}
    return {
        "period": {"first_target_date": _day(test.target_date.min()), "last_target_date": _day(test.target_date.max())},
        "overall": overall,
        "per_symbol": per_symbol,
        "model_beats_naive": beats,
    }


def _better(metric: str, model: float, naive: float) -> bool:
    return model > naive if metric == "directional_accuracy" else model < naive


def _day(value: Any) -> str:
    return str(np.datetime64(value, "D"))
