"""Training end to end: outputs, `_SUCCESS` last, schema, and same seed → same metrics."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_ARGS, run_module
from flexrun_trainer.config import parse_config
from flexrun_trainer.pipeline import OUTPUT_FILES, run
from flexrun_trainer.schema import validate_metrics, validate_predictions

pytestmark = pytest.mark.slow


def _train(out: Path, *extra: str) -> dict[str, Any]:
    return run(parse_config(["--output-dir", str(out), *FAST_ARGS, *extra], env={}), env={})


def _comparable(metrics: dict[str, Any]) -> dict[str, Any]:
    """Everything but wall-clock facts (times, throughput) and the output path."""
    training = {k: v for k, v in metrics["training"].items() if k not in ("samples_per_second", "duration_seconds")}
    config = {k: v for k, v in metrics["config"].items() if k != "output_dir"}
    return {"evaluation": metrics["evaluation"], "training": training, "config": config, "data": metrics["data"]}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Path, dict[str, Any]]:
    """Two quick runs with the same seed, shared by the tests below (TensorFlow is the slow part)."""
    a, b = tmp_path_factory.mktemp("run-a"), tmp_path_factory.mktemp("run-b")
    return a, _train(a, "--seed", "7"), b, _train(b, "--seed", "7")


def test_same_seed_gives_same_metrics_and_predictions(
    two_runs: tuple[Path, dict[str, Any], Path, dict[str, Any]],
) -> None:
    a, first, b, second = two_runs
    assert _comparable(first) == _comparable(second)
    assert (
        json.loads((a / "predictions.json").read_text())["predictions"]
        == json.loads((b / "predictions.json").read_text())["predictions"]
    )


def test_run_writes_every_output_with_success_marker_last(
    two_runs: tuple[Path, dict[str, Any], Path, dict[str, Any]],
) -> None:
    out, metrics = two_runs[0], two_runs[1]
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([*OUTPUT_FILES, "_SUCCESS"])  # no leftover staging directory
    assert validate_metrics(json.loads((out / "metrics.json").read_text())) == []
    assert validate_predictions(json.loads((out / "predictions.json").read_text())) == []
    assert (out / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # _SUCCESS is written after everything it vouches for, and its manifest matches the files.
    success = out / "_SUCCESS"
    assert all(success.stat().st_mtime_ns >= (out / n).stat().st_mtime_ns for n in OUTPUT_FILES)
    manifest = json.loads(success.read_text())
    assert set(manifest["files"]) == set(OUTPUT_FILES)
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == entry["sha256"]
    assert metrics["training"]["device"]["type"] == "CPU" and metrics["training"]["epochs_run"] <= 2
    assert metrics["run"]["data_source"] == "package:flexrun_trainer/data/prices.csv"


def test_saved_model_reloads_and_predicts(two_runs: tuple[Path, dict[str, Any], Path, dict[str, Any]]) -> None:
    import numpy as np
    import tensorflow as tf

    out = two_runs[0]
    prep = json.loads((out / "preprocessing.json").read_text())
    model = tf.keras.models.load_model(out / "model.keras")
    x = np.zeros((1, prep["window"], len(prep["features"])), np.float32)
    assert model.predict(x, verbose=0).shape == (1, 1)


def test_default_run_as_vertex_runs_it_writes_valid_outputs(tmp_path: Path) -> None:
    """`python -m flexrun_trainer.task` with only AIP_MODEL_DIR set, default configuration.

    Its wall time is a benchmark figure (`python -m bench trainer`), not an assertion here."""
    result = run_module("flexrun_trainer.task", env={"AIP_MODEL_DIR": str(tmp_path / "model")}, timeout=280)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (tmp_path / "model/_SUCCESS").exists()
    metrics = json.loads((tmp_path / "model/metrics.json").read_text())
    assert validate_metrics(metrics) == []
    assert metrics["run"]["symbols"] == ["IXIC", "MSFT", "SPX"]
    assert set(metrics["evaluation"]["per_symbol"]) == {"IXIC", "MSFT", "SPX"}
    events = [json.loads(line)["event"] for line in result.stdout.splitlines() if line.startswith("{")]
    assert events[0] == "run_started" and events[-1] == "run_finished" and "epoch" in events


def _tests_of(evaluation: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    scopes = {"overall": evaluation["overall"], **evaluation["per_symbol"]}
    return [(scope, name, t) for scope, block in scopes.items() for name, t in block["tests"].items()]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_verdict_says_edge_without_significance(seed: int, tmp_path: Path) -> None:
    """Over several seeds of real training on the shipped data, every "edge" is a significant gain."""
    evaluation = _train(tmp_path, "--seed", str(seed), "--symbols", "SPX,MSFT")["evaluation"]
    for scope, name, t in _tests_of(evaluation):
        block = evaluation["overall"] if scope == "overall" else evaluation["per_symbol"][scope]
        assert block["edge"][name] is t["edge"]
        if t["edge"]:
            assert t["p_value"] < 0.05 and t["gain"] > 0 and t["ci95"][0] > 0, (scope, name, t)
        else:
            assert t["p_value"] >= 0.05 or t["gain"] <= 0, (scope, name, t)
    clauses = {c.strip().split(" over ")[0]: c for c in evaluation["verdict"].split(";")}
    for name, edge in evaluation["edge"].items():
        clause = clauses["significant edge" if edge else "no significant edge"]
        assert name.replace("_", " ") in clause


def test_an_ensemble_trains_k_seeds_and_reports_their_spread(tmp_path: Path) -> None:
    import numpy as np
    import tensorflow as tf

    metrics = _train(tmp_path, "--seed", "7", "--ensemble", "2")
    ensemble = metrics["training"]["ensemble"]
    assert ensemble["members"] == 2 and ensemble["seeds"] == [7, 8]
    assert len(ensemble["member_gain_vs_naive"]) == 2 and ensemble["member_gain_vs_naive_sd"] >= 0
    # One saved model averages the members: it loads and predicts like any single model.
    model = tf.keras.models.load_model(tmp_path / "model.keras")
    assert "ensemble" in model.name
    assert model.predict(np.zeros((1, 10, 4), np.float32), verbose=0).shape == (1, 1)
