"""The trainer's outputs in the job's output directory → run-record fields and prediction rows.

Read only once `_SUCCESS` is there (the trainer writes it last). `metrics.json` is schema version 2
(1 is still read: its price-unit errors and `model_beats_naive` flags), `predictions.json` version 1
(trainer/README.md); a reader ignores fields it doesn't know.

Validated here, where they are read: a non-finite number (`NaN`, `Infinity`, which Python's json reads
but no store can keep as JSON) makes the run a failure with a diagnosis, never a store write error. The
baselines are computed from the data alone, so a non-finite baseline score or close means the data is
bad (`data_problem`); non-finite model scores or forecasts with finite baselines mean the model
diverged (`model_diverged`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shared.cloud.http import TRANSIENT, NotFound
from shared.config import logs
from shared.errors import TransientError
from shared.runs.failures import FailureClass
from shared.runs.record import Prediction, RunChanges, RunError, TrainerOutcome

OUTCOME = "outcome.json"  # the trainer's own account of its exit (trainer/src/flexrun_trainer/outcome.py)
ARTIFACTS = {"plot_uri": "forecast.png", "predictions_uri": "predictions.json", "model_uri": "model.keras"}
BASELINES = ("naive_last_value", "drift", "moving_average", "majority_direction")
# v2's scale-free measures first; v1 documents have only the last four (rmse/mae in price units).
MEASURES = ("rmse_return", "mae_return", "mase", "rmse", "mae", "mape", "directional_accuracy")
TEST_FIELDS = ("gain", "ci95", "p_value", "edge")


_DATA_ONLY = frozenset({*BASELINES, "baselines", "last_close"})  # computed from the data, not the model


@dataclass(frozen=True)
class TrainerOutputs:
    changes: RunChanges  # what goes into the run record
    predictions: list[Prediction] = field(default_factory=list)  # one row per (symbol, target date)
    failure: FailureClass | None = None  # set when the outputs say the run failed although the job succeeded


def non_finite(value: Any, path: str = "") -> list[str]:
    """The paths (`evaluation.overall.model.rmse`, `predictions[0].predicted_close`) of NaN or ±inf numbers."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in non_finite(item, f"{path}.{key}".lstrip("."))]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in non_finite(item, f"{path}[{i}]")]
    return []


def _not_finite(outputs: dict[str, list[str]], artifacts: RunChanges) -> TrainerOutputs:
    """A failed run that says which numbers are not finite and what that means."""
    paths = [f"{name}: {path}" for name, found in outputs.items() for path in found]
    data_only = any(set(re.split(r"[.\[]", path)) & _DATA_ONLY for found in outputs.values() for path in found)
    shown = "; ".join(paths[:3]) + (f" (and {len(paths) - 3} more)" if len(paths) > 3 else "")
    if data_only:
        failure = FailureClass.DATA_PROBLEM
        why = "the baselines, computed from the data alone, are not finite: the input series has NaN or inf values"
        hint = "Clean the data source (missing or non-numeric prices), then run again."
    else:
        failure = FailureClass.MODEL_DIVERGED
        why = "the model diverged: its scores or forecasts are not finite while the baselines are"
        hint = failure.hint
    message = f"non-finite numbers in the trainer's outputs ({shown}): {why}"
    changes = artifacts.merged(
        RunChanges(
            outputs_complete=False,
            outputs_error=message[:1000],
            error=RunError(message=message[:1000]),
            failure_class=failure.value,
            hint=hint,
        )
    )
    return TrainerOutputs(changes, failure=failure)


def read_trainer_outputs(storage: Any, output_uri: str) -> TrainerOutputs:
    """Fields and prediction rows from `OUTPUT_URI/model/`; `outputs_complete` false until `_SUCCESS`."""
    bucket_name, _, prefix = output_uri.removeprefix("gs://").partition("/")
    model_dir = prefix.rstrip("/") + "/model/"
    bucket = storage.bucket(bucket_name)
    try:
        if not bucket.blob(model_dir + "_SUCCESS").exists():
            return TrainerOutputs(RunChanges(outputs_complete=False))
        metrics = json.loads(bucket.blob(model_dir + "metrics.json").download_as_bytes())
        document = json.loads(bucket.blob(model_dir + "predictions.json").download_as_bytes())
    except NotFound:
        return TrainerOutputs(
            RunChanges(outputs_complete=False, outputs_error="metrics.json or predictions.json missing")
        )
    except TRANSIENT as exc:
        raise TransientError(f"reading trainer outputs failed: {exc.__class__.__name__}") from exc
    except json.JSONDecodeError:
        return TrainerOutputs(
            RunChanges(outputs_complete=False, outputs_error="metrics.json or predictions.json is not JSON")
        )
    if not isinstance(metrics, dict):
        return TrainerOutputs(RunChanges(outputs_complete=False, outputs_error="metrics.json is not a JSON object"))
    base = f"gs://{bucket_name}/{model_dir}"
    links = RunChanges(
        artifacts={name: base + name for name in ("metrics.json", "predictions.json", "forecast.png", "model.keras")},
        plot_uri=base + ARTIFACTS["plot_uri"],
        predictions_uri=base + ARTIFACTS["predictions_uri"],
        model_uri=base + ARTIFACTS["model_uri"],
    )
    found = {"metrics.json": non_finite(metrics), "predictions.json": non_finite(document)}
    if any(found.values()):
        return _not_finite({name: paths for name, paths in found.items() if paths}, links)
    summary = metrics_summary(metrics)
    changes = links.merged(RunChanges(outputs_complete=True, metrics=metrics))
    if summary is not None:
        changes = changes.merged(RunChanges(metrics_summary=summary))
    try:
        rows = prediction_rows(document)
    except ValueError as exc:
        return TrainerOutputs(changes.merged(RunChanges(outputs_error=f"predictions.json: {exc}")))
    return TrainerOutputs(changes.merged(RunChanges(prediction_count=len(rows))), rows)


def read_outcome(storage: Any, output_uri: str) -> TrainerOutcome | None:
    """The trainer's `OUTPUT_URI/model/outcome.json` after a failed job; None when there is none to show.

    Best effort: a trainer killed before it could write one (OOM, preemption), an older trainer, a file
    that is not schema 1, or storage failing now all leave the record with Vertex's account alone, never
    a failed event: the job's failure is recorded and announced either way.
    """
    bucket_name, _, prefix = output_uri.removeprefix("gs://").partition("/")
    name = prefix.rstrip("/") + "/model/" + OUTCOME
    try:
        raw = storage.bucket(bucket_name).blob(name).download_as_bytes()
        return TrainerOutcome.model_validate_json(raw)
    except NotFound:
        return None
    except ValidationError as exc:
        logs.warning("outcome.json is not a schema-1 outcome; ignored", problems=exc.error_count())
        return None
    except Exception as exc:  # noqa: BLE001 — see above: storage trouble costs the detail, not the record
        logs.warning("outcome.json not read", error=exc.__class__.__name__)
        return None


def metrics_summary(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The test-period scores of the model next to its baselines (pooled over symbols)."""
    evaluation = metrics.get("evaluation") if isinstance(metrics, dict) else None
    if not isinstance(evaluation, dict):
        return None
    overall = evaluation.get("overall") or {}
    if not isinstance(overall.get("model"), dict):
        return None
    summary: dict[str, Any] = {
        forecast: {m: overall[forecast][m] for m in MEASURES if m in (overall.get(forecast) or {})}
        for forecast in ("model", *BASELINES)
        if isinstance(overall.get(forecast), dict)
    }
    summary["main_metric"] = "rmse_return" if "rmse_return" in summary["model"] else "rmse"
    if isinstance(evaluation.get("model_beats_naive"), dict):  # schema 1: point estimates, no test
        summary["model_beats_naive"] = evaluation["model_beats_naive"]
    if isinstance(evaluation.get("edge"), dict):  # schema 2: true only when significant at 5 %
        summary["edge"] = {k: v for k, v in evaluation["edge"].items() if isinstance(v, bool)}
        summary["verdict"] = str(evaluation.get("verdict") or "")
        raw = overall.get("tests")
        tests: dict[str, Any] = raw if isinstance(raw, dict) else {}
        summary["tests"] = {
            name: {f: t[f] for f in TEST_FIELDS if f in t} for name, t in tests.items() if isinstance(t, dict)
        }
    if isinstance(evaluation.get("period"), dict):
        summary["test_period"] = evaluation["period"]
    return summary


def prediction_rows(document: Any) -> list[Prediction]:
    """predictions.json (schema version 1) → rows keyed by (symbol, target_date); ValueError if malformed."""
    if not isinstance(document, dict) or document.get("schema_version") != 1:
        raise ValueError("expected a JSON object with schema_version 1")
    model, version = document.get("model"), document.get("package_version")
    rows = []
    for item in document.get("predictions") or []:
        if not isinstance(item, dict) or not item.get("symbol") or not item.get("target_date"):
            raise ValueError("every prediction needs a symbol and a target_date")
        if not isinstance(item.get("predicted_close"), int | float):
            raise ValueError(f"prediction for {item['symbol']} has no numeric predicted_close")
        try:
            row = Prediction(
                symbol=str(item["symbol"]),
                target_date=str(item["target_date"]),
                last_date=item.get("last_date"),
                last_close=item.get("last_close"),
                predicted_close=float(item["predicted_close"]),
                predicted_return=item.get("predicted_return"),
                baselines=item.get("baselines"),
                model=model,
                package_version=version,
                generated_at=document.get("generated_at"),
            )
        except ValidationError as exc:
            raise ValueError(f"prediction for {item['symbol']}: {exc.errors()[0]['msg']}") from None
        rows.append(row)
    return rows
