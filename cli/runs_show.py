"""`flexrun runs show RUN_KEY`: one attempt in sections a person reads top to bottom (`--json` for scripts).

Sections: run, hardware and strategy, timeline, cost, metrics (model against each baseline),
predictions, artifacts and console links. Everything the record holds is in `--json`.
"""

from __future__ import annotations

import json
from typing import Any

from shared.notify.figures import change, edge_words, money, percent, price
from shared.notify.run_page import browser_url
from shared.notify.slack_text import console_url, duration
from shared.runs.record import Prediction, RunRecord

FORECASTS = ("model", "naive_last_value", "drift", "moving_average", "majority_direction")
# Metrics schema 2 scores returns (rmse_return, mase); schema 1 scored prices (rmse, mape). Both are shown
# where present, so an old run stays readable beside a new one.
MEASURES = ("rmse_return", "mase", "rmse", "mape", "directional_accuracy")


def _block(title: str, rows: list[tuple[str, Any]]) -> str:
    shown = [(label, value) for label, value in rows if value not in (None, "", [])]
    width = max((len(label) for label, _ in shown), default=0)
    return f"{title}\n" + "\n".join(f"  {label:<{width}}  {value}" for label, value in shown)


def _metrics(summary: dict[str, Any]) -> str:
    model = summary.get("model") or {}
    measures = [m for m in MEASURES if m in model]
    header = ("forecast", *measures, "model has edge")
    rows = []
    for name in FORECASTS:
        scores = summary.get(name)
        if not isinstance(scores, dict):
            continue
        cells = [f"{v:.4g}" if isinstance(v := scores.get(m), int | float) else "-" for m in measures]
        edge = (summary.get("edge") or {}).get(name)
        rows.append((name.replace("_", " "), *cells, "-" if edge is None else "yes" if edge else "no"))
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = ["  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]  # fmt: skip
    verdict = edge_words(summary) or summary.get("verdict")
    return "metrics (test period)\n" + "\n".join(lines) + (f"\n  verdict: {verdict}" if verdict else "")


def runs_show_text(run: RunRecord, predictions: list[Prediction]) -> str:
    sections = [
        _block("run", [("run", f"{run.label}: {run.state.value}"), ("package", run.package_version),
                       ("requested by", run.requested_by), ("reason", run.reason), ("trigger", run.trigger),
                       ("next attempt", run.next_attempt), ("fallback reason", run.fallback_reason)]),
        _block("hardware and strategy", [
            ("gpu", f"{run.gpu_count}x {run.gpu_type} on {run.machine_type} in {run.region}"),
            ("strategy", run.strategy + (f" (step {run.step_label})" if run.step_label else "")),
            ("replicas", run.replicas if run.replicas != 1 else None), ("image", run.executor_image),
        ]),
        _block("timeline", [*((state.value, at.isoformat(timespec="seconds")) for state, at in run.history()),
                            ("waited", duration(run.wait_seconds)), ("ran", duration(run.run_seconds))]),
        _block("cost", [("rate", f"{money(run.usd_per_gpu_hour)} per GPU hour" if run.usd_per_gpu_hour else None),
                        ("this attempt", money(run.estimated_cost_usd)), ("whole run", money(run.total_cost_usd))]),
    ]  # fmt: skip
    if run.error and run.error.message:
        sections.append(_block("failure", [("class", run.failure_class), ("error", run.error.message),
                                           ("what to do", run.hint)]))  # fmt: skip
    if run.metrics_summary and run.metrics_summary.get("model"):
        sections.append(_metrics(run.metrics_summary))
    if predictions:
        rows = [(p.symbol, f"{p.target_date}: {price(p.last_close)} -> {price(p.predicted_close)} "
                           f"({percent(change(p.model_dump()))})") for p in predictions]  # fmt: skip
        sections.append(_block("predictions", rows))
    links = [("console", console_url(run.job_name)), ("outputs", run.output_uri), ("plot", run.plot_uri),
             ("predictions", run.predictions_uri), ("model", run.model_uri),
             ("report", browser_url(run.report_uri) if run.report_uri else None)]  # fmt: skip
    sections.append(_block("artifacts and links", links))
    return "\n\n".join(sections)


def runs_show_json(run: RunRecord, predictions: list[Prediction]) -> str:
    document = run.model_dump(mode="json", exclude_none=True)
    document["predictions"] = [p.model_dump(mode="json", exclude_none=True) for p in predictions]
    document["console_url"] = console_url(run.job_name)
    return json.dumps(document, indent=2, sort_keys=True)
