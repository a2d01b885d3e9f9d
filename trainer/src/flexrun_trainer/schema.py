"""The documented shapes of metrics.json and predictions.json (see trainer/README.md), and a checker.

SCHEMA_VERSION changes only when a field is renamed, removed or changes meaning; adding a field keeps
it. Readers (the job-state function) should check `schema_version` and ignore fields they don't know.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

from flexrun_trainer.metrics import BASELINES, FORECASTS, PRICE_METRICS, VALUE_METRICS

# 2: scale-free measures, drift and majority-direction baselines, Diebold–Mariano tests and "edge"
#    verdicts replace v1's price-unit pooled errors and point-estimate "model_beats_naive" flags.
SCHEMA_VERSION = 2
PREDICTIONS_SCHEMA_VERSION = 1  # predictions.json only gained fields

_NUMBER = (Real,)
# dotted path → expected type(s); "*" stands for every key of a mapping.
METRICS_FIELDS: dict[str, tuple[type, ...]] = {
    "schema_version": (int,),
    "package.name": (str,),
    "package.version": (str,),
    "run.started_at": (str,),
    "run.finished_at": (str,),
    "run.duration_seconds": _NUMBER,
    "run.phase_seconds": (dict,),
    "run.seed": (int,),
    "run.data_source": (str,),
    "run.symbols": (list,),
    "config": (dict,),
    "data.rows": (int,),
    "data.first_date": (str,),
    "data.last_date": (str,),
    "data.split.train.samples": (int,),
    "data.split.validation.samples": (int,),
    "data.split.test.samples": (int,),
    "training.model": (str,),
    "training.parameters": (int,),
    "training.epochs_max": (int,),
    "training.epochs_run": (int,),
    "training.best_epoch": (int,),
    "training.early_stopped": (bool,),
    "training.samples_per_second": _NUMBER,
    "training.duration_seconds": _NUMBER,
    "training.device.type": (str,),
    "training.device.name": (str,),
    "training.device.gpu_count": (int,),
    "training.device.mixed_precision": (bool,),
    "training.device.xla": (bool,),
    "evaluation.period.first_target_date": (str,),
    "evaluation.period.last_target_date": (str,),
    "evaluation.significance.test": (str,),
    "evaluation.significance.alpha": _NUMBER,
    "evaluation.verdict": (str,),
    "outcome.status": (str,),
    "outcome.exit_code": (int,),
}
for _scope in ("evaluation.overall", "evaluation.per_symbol.*"):
    METRICS_FIELDS[f"{_scope}.samples"] = (int,)
    METRICS_FIELDS[f"{_scope}.up_day_share"] = _NUMBER
    METRICS_FIELDS[f"{_scope}.model_up_call_share"] = _NUMBER
    for _fc in FORECASTS:
        for _m in VALUE_METRICS if _fc != "majority_direction" else ("directional_accuracy",):
            METRICS_FIELDS[f"{_scope}.{_fc}.{_m}"] = _NUMBER
    for _b in BASELINES:
        METRICS_FIELDS[f"{_scope}.edge.{_b}"] = (bool,)
        for _t, _types in (("gain", _NUMBER), ("ci95", (list,)), ("p_value", _NUMBER), ("edge", (bool,))):
            METRICS_FIELDS[f"{_scope}.tests.{_b}.{_t}"] = _types
for _b in BASELINES:
    METRICS_FIELDS[f"evaluation.edge.{_b}"] = (bool,)
for _fc in FORECASTS[:-1]:
    for _m in PRICE_METRICS:
        METRICS_FIELDS[f"evaluation.per_symbol.*.{_fc}.{_m}"] = _NUMBER

PREDICTION_FIELDS: dict[str, tuple[type, ...]] = {
    "symbol": (str,),
    "last_date": (str,),
    "target_date": (str,),
    "last_close": _NUMBER,
    "predicted_close": _NUMBER,
    "predicted_return": _NUMBER,
    "baselines.naive_last_value": _NUMBER,
    "baselines.moving_average": _NUMBER,
}


def _lookup(doc: Any, parts: list[str], trail: str, problems: list[str], types: tuple[type, ...]) -> None:
    if not parts:
        bad_bool = isinstance(doc, bool) and bool not in types  # bool is an int: don't accept it as one
        if not isinstance(doc, types) or bad_bool:
            problems.append(f"{trail}: expected {'/'.join(t.__name__ for t in types)}, got {type(doc).__name__}")
        return
    if not isinstance(doc, dict):
        problems.append(f"{trail}: expected an object")
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        if not doc:
            problems.append(f"{trail}: expected at least one entry")
        for key, value in doc.items():
            _lookup(value, rest, f"{trail}.{key}", problems, types)
    elif head not in doc:
        problems.append(f"{trail + '.' if trail else ''}{head}: missing")
    else:
        _lookup(doc[head], rest, f"{trail + '.' if trail else ''}{head}", problems, types)


def check(doc: Any, fields: dict[str, tuple[type, ...]]) -> list[str]:
    problems: list[str] = []
    for path, types in fields.items():
        _lookup(doc, path.split("."), "", problems, types)
    return problems


def validate_metrics(doc: Any) -> list[str]:
    """Problems with a metrics.json document; empty when it matches SCHEMA_VERSION."""
    problems = check(doc, METRICS_FIELDS)
    if isinstance(doc, dict) and doc.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"schema_version: expected {SCHEMA_VERSION}, got {doc.get('schema_version')!r}")
    return problems


def validate_predictions(doc: Any) -> list[str]:
    """Problems with a predictions.json document (PREDICTIONS_SCHEMA_VERSION)."""
    problems = check(doc, {"schema_version": (int,), "package_version": (str,), "predictions": (list,)})
    for i, item in enumerate(doc.get("predictions", []) if isinstance(doc, dict) else []):
        problems += [f"predictions[{i}].{p}" for p in check(item, PREDICTION_FIELDS)]
    return problems
