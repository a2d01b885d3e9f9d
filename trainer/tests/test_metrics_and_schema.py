"""Honest evaluation: baselines are computed the documented way, and the schema checker bites."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from flexrun_trainer.data import validate
from flexrun_trainer.metrics import FORECASTS, METRICS, evaluate
from flexrun_trainer.schema import validate_metrics, validate_predictions
from flexrun_trainer.windows import make_samples, time_split


@pytest.fixture
def test_part(sample_frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    prices = validate(sample_frame[sample_frame["date"] >= "2016-01-01"], "sample")
    return time_split(make_samples(prices, 10, 5), 0.15, 0.15).test


def test_perfect_forecast_has_zero_error_and_full_direction(test_part) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(test_part, test_part.y)  # the true next-day returns
    model = result["overall"]["model"]
    assert model["rmse"] == pytest.approx(0, abs=1e-6) and model["mape"] == pytest.approx(0, abs=1e-6)
    assert model["directional_accuracy"] == 1.0
    assert all(result["model_beats_naive"][m] for m in ("rmse", "mae", "mape"))


def test_zero_return_forecast_equals_naive_prices(test_part) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(test_part, np.zeros(len(test_part)))
    model, naive = result["overall"]["model"], result["overall"]["naive_last_value"]
    for m in ("rmse", "mae", "mape"):
        assert model[m] == pytest.approx(naive[m])
    assert result["model_beats_naive"]["rmse"] is False  # a tie is not a win


def test_naive_direction_is_persistence_of_the_last_move(test_part) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(test_part, np.zeros(len(test_part)))
    expected = np.mean((test_part.prev_return > 0) == (test_part.target_close > test_part.last_close))
    assert result["overall"]["naive_last_value"]["directional_accuracy"] == pytest.approx(expected)


def test_every_symbol_and_forecast_has_every_metric(test_part) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(test_part, np.full(len(test_part), 1e-4))
    assert set(result["per_symbol"]) == {"IXIC", "MSFT", "SPX"}
    for block in [result["overall"], *result["per_symbol"].values()]:
        for fc in FORECASTS:
            assert set(block[fc]) == set(METRICS)
    assert result["overall"]["model_up_call_share"] == 1.0


def _minimal_metrics() -> dict:  # type: ignore[type-arg]
    metric = {m: 1.0 for m in METRICS}
    block = {**{fc: dict(metric) for fc in FORECASTS}, "samples": 3, "up_day_share": 0.5, "model_up_call_share": 0.5}
    return {
        "schema_version": 1,
        "package": {"name": "flexrun-trainer", "version": "0.1.0"},
        "run": {
            "started_at": "t",
            "finished_at": "t",
            "duration_seconds": 1.0,
            "phase_seconds": {},
            "seed": 1,
            "data_source": "x",
            "symbols": ["A"],
        },
        "config": {},
        "data": {
            "rows": 1,
            "first_date": "d",
            "last_date": "d",
            "split": {k: {"samples": 1} for k in ("train", "validation", "test")},
        },
        "training": {
            "model": "gru",
            "parameters": 1,
            "epochs_max": 1,
            "epochs_run": 1,
            "best_epoch": 1,
            "early_stopped": False,
            "samples_per_second": 1.0,
            "duration_seconds": 1.0,
            "device": {"type": "CPU", "name": "x", "gpu_count": 0, "mixed_precision": False, "xla": False},
        },
        "evaluation": {
            "period": {"first_target_date": "d", "last_target_date": "d"},
            "overall": block,
            "per_symbol": {"A": copy.deepcopy(block)},
            "model_beats_naive": {},
        },
    }


def test_schema_checker_accepts_a_complete_document() -> None:
    assert validate_metrics(_minimal_metrics()) == []


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (("schema_version",), 2, "schema_version"),
        (("training", "epochs_run"), "3", "training.epochs_run"),
        (("training", "epochs_run"), True, "training.epochs_run"),
        (
            ("evaluation", "per_symbol", "A", "naive_last_value", "rmse"),
            None,
            "evaluation.per_symbol.A.naive_last_value.rmse",
        ),
    ],
)
def test_schema_checker_names_the_bad_field(path: tuple[str, ...], value: object, expected: str) -> None:
    doc = _minimal_metrics()
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    problems = validate_metrics(doc)
    assert problems and any(p.startswith(expected) for p in problems)


def test_schema_checker_reports_missing_fields() -> None:
    doc = _minimal_metrics()
    del doc["evaluation"]["overall"]["moving_average"]
    assert any("evaluation.overall.moving_average" in p for p in validate_metrics(doc))
    assert validate_predictions({"schema_version": 1, "package_version": "x", "predictions": [{"symbol": "A"}]})
