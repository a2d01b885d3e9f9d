"""Honest evaluation: baselines computed the documented way, edge only with significance, schema checks."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from flexrun_trainer.data import validate
from flexrun_trainer.metrics import BASELINES, FORECASTS, VALUE_METRICS, evaluate
from flexrun_trainer.schema import SCHEMA_VERSION, validate_metrics, validate_predictions
from flexrun_trainer.significance import compare
from flexrun_trainer.windows import Split, make_samples, time_split


@pytest.fixture
def split(sample_frame: pd.DataFrame) -> Split:
    prices = validate(sample_frame[sample_frame["date"] >= "2016-01-01"], "sample")
    return time_split(make_samples(prices, 10, 5), 0.15, 0.15)


def test_perfect_forecast_has_zero_error_full_direction_and_an_edge(split: Split) -> None:
    result = evaluate(split.test, split.test.y, split.train)  # the true next-day returns
    model = result["overall"]["model"]
    assert model["rmse_return"] == pytest.approx(0, abs=1e-9) and model["mape"] == pytest.approx(0, abs=1e-6)
    assert model["directional_accuracy"] == 1.0
    assert all(result["edge"].values())
    assert "no significant" not in result["verdict"]


def test_zero_return_forecast_ties_naive_and_has_no_edge_over_it(split: Split) -> None:
    result = evaluate(split.test, np.zeros(len(split.test)), split.train)
    model, naive = result["overall"]["model"], result["overall"]["naive_last_value"]
    for m in VALUE_METRICS:
        if m != "directional_accuracy":
            assert model[m] == pytest.approx(naive[m])
    assert result["edge"]["naive_last_value"] is False  # a tie is not an edge
    assert "no significant edge over naive last value" in result["verdict"]


def test_a_small_lucky_gain_is_not_an_edge(split: Split) -> None:
    """Pure noise that happens to score a hair better than naive: the old flag said "beats", no edge."""
    test = split.test
    for seed in range(100):
        noise = np.random.default_rng(seed).normal(0, 0.1 * test.y.std(), len(test))
        result = evaluate(test, noise, split.train)
        block = result["overall"]
        if block["model"]["rmse_return"] < block["naive_last_value"]["rmse_return"]:
            break
    assert block["model"]["rmse_return"] < block["naive_last_value"]["rmse_return"]  # the old flag said "beats"
    assert block["tests"]["naive_last_value"]["p_value"] >= 0.05
    assert result["edge"]["naive_last_value"] is False


def test_drift_and_majority_direction_come_from_the_training_period(split: Split) -> None:
    result = evaluate(split.test, np.zeros(len(split.test)), split.train)
    spx_train = split.train.y[split.train.symbol == "SPX"]
    spx = result["per_symbol"]["SPX"]
    majority_up = np.mean(spx_train > 0) > 0.5
    spx_test_up = split.test.y[split.test.symbol == "SPX"] > 0
    assert spx["majority_direction"]["directional_accuracy"] == pytest.approx(np.mean(spx_test_up == majority_up))
    drift_err = spx_train.mean() - split.test.y[split.test.symbol == "SPX"]
    assert spx["drift"]["rmse_return"] == pytest.approx(np.sqrt(np.mean(drift_err**2)))


def test_naive_direction_is_persistence_of_the_last_move(split: Split) -> None:
    test = split.test
    result = evaluate(test, np.zeros(len(test)), split.train)
    expected = np.mean((test.prev_return > 0) == (test.y > 0))
    assert result["overall"]["naive_last_value"]["directional_accuracy"] == pytest.approx(expected)


def test_every_symbol_and_forecast_has_every_measure_and_test(split: Split) -> None:
    result = evaluate(split.test, np.full(len(split.test), 1e-4), split.train)
    assert set(result["per_symbol"]) == {"IXIC", "MSFT", "SPX"}
    for block in [result["overall"], *result["per_symbol"].values()]:
        for fc in FORECASTS[:-1]:
            assert set(VALUE_METRICS) <= set(block[fc])
        assert set(block["tests"]) == set(BASELINES) == set(block["edge"])
        for t in block["tests"].values():
            assert t["edge"] == (t["p_value"] < 0.05 and t["gain"] > 0)
            assert t["ci95"][0] <= t["gain"] <= t["ci95"][1]
    assert "rmse" in result["per_symbol"]["SPX"]["model"] and "rmse" not in result["overall"]["model"]
    assert result["overall"]["model_up_call_share"] == 1.0


def test_dm_interval_excludes_zero_exactly_when_significant() -> None:
    rng = np.random.default_rng(3)
    for shift in (0.0, 0.05, 0.2, 1.0):
        d = rng.normal(shift, 1.0, 300)
        c = compare(d, np.ones(300), "x")
        assert (c.ci95[0] > 0 or c.ci95[1] < 0) == (c.p_value < 0.05)
    assert compare(rng.normal(0, 1, 300), np.ones(300), "x").edge is False
    assert compare(rng.normal(1, 1, 300), np.ones(300), "x").edge is True


@pytest.fixture
def evaluation(split: Split) -> dict:  # type: ignore[type-arg]
    return evaluate(split.test, np.full(len(split.test), 1e-4), split.train)


def _minimal_metrics(evaluation: dict) -> dict:  # type: ignore[type-arg]
    return {
        "schema_version": SCHEMA_VERSION,
        "package": {"name": "flexrun-trainer", "version": "0.2.0"},
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
        "evaluation": copy.deepcopy(evaluation),
        "outcome": {"status": "succeeded", "exit_code": 0},
    }


def test_schema_checker_accepts_a_complete_document(evaluation: dict) -> None:  # type: ignore[type-arg]
    assert validate_metrics(_minimal_metrics(evaluation)) == []


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (("schema_version",), 1, "schema_version"),
        (("training", "epochs_run"), "3", "training.epochs_run"),
        (("training", "epochs_run"), True, "training.epochs_run"),
        (
            ("evaluation", "per_symbol", "SPX", "naive_last_value", "rmse"),
            None,
            "evaluation.per_symbol.SPX.naive_last_value.rmse",
        ),
        (("evaluation", "overall", "edge", "drift"), "yes", "evaluation.overall.edge.drift"),
    ],
)
def test_schema_checker_names_the_bad_field(
    path: tuple[str, ...],
    value: object,
    expected: str,
    evaluation: dict,  # type: ignore[type-arg]
) -> None:
    doc = _minimal_metrics(evaluation)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    problems = validate_metrics(doc)
    assert problems and any(p.startswith(expected) for p in problems)


def test_schema_checker_reports_missing_fields(evaluation: dict) -> None:  # type: ignore[type-arg]
    doc = _minimal_metrics(evaluation)
    del doc["evaluation"]["overall"]["tests"]["drift"]
    assert any("evaluation.overall.tests.drift" in p for p in validate_metrics(doc))
    assert validate_predictions({"schema_version": 1, "package_version": "x", "predictions": [{"symbol": "A"}]})
