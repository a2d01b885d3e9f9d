"""The model against four baselines on the same test samples, per symbol and pooled, with significance.

Every forecast is a next-day log return r̂ (the price forecast is last_close · exp(r̂)):
- naive_last_value: r̂ = 0 (tomorrow closes where today did);
- drift: r̂ = the symbol's mean daily return over the training period;
- moving_average: r̂ = log(MA / last_close), the price reverting to its `--ma-window`-day average;
- majority_direction (direction only): always the direction the symbol moved most often in training.
Directions: the model and drift call the sign of r̂, the naive forecast calls persistence (tomorrow
moves like today), the moving average calls reversion; a flat day counts as "down".

Measures are scale-free so that symbols of 70 and 6,000 points weigh alike when pooled: RMSE and MAE
of the return, MASE (MAE over the training period's mean |return|, i.e. the in-sample naive MAE, per
symbol), MAPE of the price and directional accuracy. RMSE/MAE in price units appear per symbol only.

"Edge" comes from significance.compare (Diebold–Mariano, HAC variance), never from a point estimate:
value baselines on the squared return error, majority_direction on hit/miss. Pooled tests use one
loss differential per day: each symbol's squared error divided by its training variance of returns,
averaged over the symbols of that day, so correlated index moves are not counted as independent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flexrun_trainer.significance import ALPHA, compare, newey_west_lag
from flexrun_trainer.windows import Samples

VALUE_BASELINES = ("naive_last_value", "drift", "moving_average")
BASELINES = (*VALUE_BASELINES, "majority_direction")
FORECASTS = ("model", *BASELINES)
VALUE_METRICS = ("rmse_return", "mae_return", "mase", "mape", "directional_accuracy")
PRICE_METRICS = ("rmse", "mae")  # price units: per symbol only
LABELS = {
    "naive_last_value": "naive last value",
    "drift": "drift",
    "moving_average": "moving average",
    "majority_direction": "majority direction",
}


@dataclass(frozen=True)
class TrainingFacts:
    """Per symbol, what the baselines and the scale-free measures take from the training period."""

    drift: dict[str, float]  # mean daily log return
    up_share: dict[str, float]  # share of up days: the majority direction is up when > 0.5
    mean_abs_return: dict[str, float]  # the in-sample naive MAE: MASE's scale
    mean_sq_return: dict[str, float]  # the in-sample naive MSE: the pooled tests' scale

    @classmethod
    def of(cls, train: Samples) -> TrainingFacts:
        facts: dict[str, dict[str, float]] = {"drift": {}, "up": {}, "abs": {}, "sq": {}}
        for s in sorted(set(train.symbol)):
            y = train.y[train.symbol == s]
            facts["drift"][s] = float(y.mean())
            facts["up"][s] = float(np.mean(y > 0))
            facts["abs"][s] = float(np.mean(np.abs(y))) or 1.0
            facts["sq"][s] = float(np.mean(y**2)) or 1.0
        return cls(facts["drift"], facts["up"], facts["abs"], facts["sq"])

    def per_sample(self, table: dict[str, float], symbols: np.ndarray, default: float) -> np.ndarray:
        return np.array([table.get(str(s), default) for s in symbols], np.float64)


def forecasts(test: Samples, predicted_return: np.ndarray, facts: TrainingFacts) -> dict[str, dict[str, np.ndarray]]:
    """Each forecast's predicted return (value forecasts) and predicted 'up' on the test samples."""
    drift = facts.per_sample(facts.drift, test.symbol, 0.0)
    ma_return = np.log(test.ma_close / test.last_close)
    majority_up = facts.per_sample(facts.up_share, test.symbol, 0.5) > 0.5
    return {
        "model": {"r": np.asarray(predicted_return, np.float64), "up": predicted_return > 0},
        "naive_last_value": {"r": np.zeros(len(test)), "up": test.prev_return > 0},
        "drift": {"r": drift, "up": drift > 0},
        "moving_average": {"r": ma_return, "up": ma_return > 0},
        "majority_direction": {"up": majority_up},
    }


def _scores(fc: dict[str, np.ndarray], test: Samples, scale: np.ndarray, per_symbol: bool) -> dict[str, float]:
    actual_up = test.y > 0
    out = {"directional_accuracy": float(np.mean(fc["up"] == actual_up))}
    if "r" not in fc:
        return out
    err = fc["r"] - test.y
    price_err = test.last_close * np.exp(fc["r"]) - test.target_close
    out.update(
        rmse_return=float(np.sqrt(np.mean(err**2))),
        mae_return=float(np.mean(np.abs(err))),
        mase=float(np.mean(np.abs(err) / scale)),
        mape=float(np.mean(np.abs(price_err) / test.target_close) * 100.0),
    )
    if per_symbol:
        out.update(rmse=float(np.sqrt(np.mean(price_err**2))), mae=float(np.mean(np.abs(price_err))))
    return out


def _daily(values: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """One value per target date (the mean over that day's symbols), in date order."""
    days, index = np.unique(dates, return_inverse=True)
    return np.bincount(index, weights=values, minlength=len(days)) / np.bincount(index, minlength=len(days))


def _tests(fc: dict[str, dict[str, np.ndarray]], test: Samples, facts: TrainingFacts) -> dict[str, Any]:
    norm = facts.per_sample(facts.mean_sq_return, test.symbol, 1.0)
    model_loss = (fc["model"]["r"] - test.y) ** 2 / norm
    tests: dict[str, Any] = {}
    for name in VALUE_BASELINES:
        base_loss = (fc[name]["r"] - test.y) ** 2 / norm
        daily_base = _daily(base_loss, test.target_date)
        d = daily_base - _daily(model_loss, test.target_date)
        tests[name] = compare(d, daily_base, "squared_return_error").as_dict()
    actual_up = test.y > 0
    miss_model = (fc["model"]["up"] != actual_up).astype(np.float64)
    miss_base = (fc["majority_direction"]["up"] != actual_up).astype(np.float64)
    d = _daily(miss_base, test.target_date) - _daily(miss_model, test.target_date)
    tests["majority_direction"] = compare(d, miss_base, "direction_miss", relative=False).as_dict()
    return tests


def _block(
    test: Samples, fc: dict[str, dict[str, np.ndarray]], facts: TrainingFacts, per_symbol: bool
) -> dict[str, Any]:
    scale = facts.per_sample(facts.mean_abs_return, test.symbol, 1.0)
    block: dict[str, Any] = {name: _scores(f, test, scale, per_symbol) for name, f in fc.items()}
    block["samples"] = len(test)
    block["up_day_share"] = float(np.mean(test.y > 0))
    # How often the model calls "up": near 1.0 means it learned the drift, not day-to-day moves.
    block["model_up_call_share"] = float(np.mean(fc["model"]["up"]))
    block["tests"] = _tests(fc, test, facts)
    block["edge"] = {name: bool(t["edge"]) for name, t in block["tests"].items()}
    return block


def verdict_text(edge: dict[str, bool]) -> str:
    """Plain words: 'edge over drift; no significant edge over naive last value, moving average'."""
    won = [LABELS[b] for b in BASELINES if edge.get(b)]
    lost = [LABELS[b] for b in BASELINES if b in edge and not edge[b]]
    parts = []
    if won:
        parts.append("significant edge over " + ", ".join(won))
    if lost:
        parts.append("no significant edge over " + ", ".join(lost))
    return "; ".join(parts)


def evaluate(test: Samples, predicted_return: np.ndarray, train: Samples) -> dict[str, Any]:
    facts = TrainingFacts.of(train)
    fc = forecasts(test, predicted_return, facts)
    overall = _block(test, fc, facts, per_symbol=False)
    per_symbol: dict[str, Any] = {}
    for s in sorted(set(test.symbol)):
        mask = test.symbol == s
        part = test.take(mask)
        per_symbol[str(s)] = _block(part, {n: {k: v[mask] for k, v in f.items()} for n, f in fc.items()}, facts, True)
    return {
        "period": {"first_target_date": _day(test.target_date.min()), "last_target_date": _day(test.target_date.max())},
        "significance": {
            "test": "diebold-mariano",
            "variance": "newey-west (bartlett kernel), lag floor(4 (n/100)^(2/9))",
            "small_sample": "harvey-leybourne-newbold",
            "alpha": ALPHA,
            "two_sided": True,
            "pooled_hac_lag": newey_west_lag(len(np.unique(test.target_date))),
        },
        "overall": overall,
        "per_symbol": per_symbol,
        "edge": overall["edge"],
        "verdict": verdict_text(overall["edge"]),
    }


def _day(value: Any) -> str:
    return str(np.datetime64(value, "D"))
