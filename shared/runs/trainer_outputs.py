"""The trainer's outputs in the job's output directory → run-record fields and prediction rows.

Read only once `_SUCCESS` is there (the trainer writes it last). `metrics.json` is schema version 2
(1 is still read: its price-unit errors and `model_beats_naive` flags), `predictions.json` version 1
(trainer/README.md); a reader ignores fields it doesn't know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shared.errors import TransientError
from shared.runs.record import Prediction, RunChanges

ARTIFACTS = {"plot_uri": "forecast.png", "predictions_uri": "predictions.json", "model_uri": "model.keras"}
BASELINES = ("naive_last_value", "drift", "moving_average", "majority_direction")
# v2's scale-free measures first; v1 documents have only the last four (rmse/mae in price units).
MEASURES = ("rmse_return", "mae_return", "mase", "rmse", "mae", "mape", "directional_accuracy")
TEST_FIELDS = ("gain", "ci95", "p_value", "edge")


@dataclass(frozen=True)
class TrainerOutputs:
    changes: RunChanges  # what goes into the run record
    predictions: list[Prediction] = field(default_factory=list)  # one row per (symbol, target date)


def read_trainer_outputs(storage: Any, output_uri: str) -> TrainerOutputs:
    """Fields and prediction rows from `OUTPUT_URI/model/`; `outputs_complete` false until `_SUCCESS`."""
    from google.api_core import exceptions as gexc

    bucket_name, _, prefix = output_uri.removeprefix("gs://").partition("/")
    model_dir = prefix.rstrip("/") + "/model/"
    bucket = storage.bucket(bucket_name)
    try:
        if not bucket.blob(model_dir + "_SUCCESS").exists():
            return TrainerOutputs(RunChanges(outputs_complete=False))
        metrics = json.loads(bucket.blob(model_dir + "metrics.json").download_as_bytes())
        document = json.loads(bucket.blob(model_dir + "predictions.json").download_as_bytes())
    except gexc.NotFound:
        return TrainerOutputs(
            RunChanges(outputs_complete=False, outputs_error="metrics.json or predictions.json missing")
        )
    except (gexc.ServiceUnavailable, gexc.TooManyRequests, gexc.InternalServerError, OSError) as exc:
        raise TransientError(f"reading trainer outputs failed: {exc.__class__.__name__}") from exc
    except json.JSONDecodeError:
        return TrainerOutputs(
            RunChanges(outputs_complete=False, outputs_error="metrics.json or predictions.json is not JSON")
        )
    if not isinstance(metrics, dict):
        return TrainerOutputs(RunChanges(outputs_complete=False, outputs_error="metrics.json is not a JSON object"))
    base = f"gs://{bucket_name}/{model_dir}"
    artifacts = {name: base + name for name in ("metrics.json", "predictions.json", "forecast.png", "model.keras")}
    summary = metrics_summary(metrics)
    changes = RunChanges(
        outputs_complete=True,
        metrics=metrics,
        artifacts=artifacts,
        plot_uri=base + ARTIFACTS["plot_uri"],
        predictions_uri=base + ARTIFACTS["predictions_uri"],
        model_uri=base + ARTIFACTS["model_uri"],
    )
    if summary is not None:
        changes = changes.merged(RunChanges(metrics_summary=summary))
    try:
        rows = prediction_rows(document)
    except ValueError as exc:
        return TrainerOutputs(changes.merged(RunChanges(outputs_error=f"predictions.json: {exc}")))
    return TrainerOutputs(changes.merged(RunChanges(prediction_count=len(rows))), rows)


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
