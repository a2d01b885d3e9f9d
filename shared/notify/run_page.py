"""One run's page, `OUTPUT_URI/report.html`, written by job-state next to the trainer's artifacts.

Plain HTML from the record and its predictions: no matplotlib (job-state's cold start matters; the
whole-history report with plots is `flexrun report`). The forecast plot is the trainer's own PNG,
referenced relatively (`model/forecast.png`), so the page opens from the bucket or a downloaded copy.
"""

from __future__ import annotations

import html
from typing import Any

from shared.notify.figures import change, edge_words, money, percent, price

PAGE_NAME = "report.html"
CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td:first-child,th:first-child{text-align:left}"
)
# Authenticated browser downloads (cloud.google.com/storage/docs/request-endpoints): people with read access
# open an object there in a browser; flexrun never calls it.
BROWSER = "https://storage.cloud.google.com"


def page_uri(output_uri: str) -> str:
    return output_uri.rstrip("/") + "/" + PAGE_NAME


def browser_url(uri: str) -> str:
    """Where a person with read access opens a `gs://` object in a browser."""
    return f"{BROWSER}/{uri.removeprefix('gs://')}"


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _scores(summary: dict[str, Any]) -> str:
    forecasts = [name for name in summary if isinstance(summary[name], dict) and name not in ("tests", "edge")]
    forecasts = [name for name in forecasts if name != "test_period"]
    measures = list(summary.get("model") or {})
    rows = [
        (name.replace("_", " "), *(f"{v:.4g}" if isinstance(v := summary[name].get(m), int | float) else "-"
                                   for m in measures))
        for name in forecasts
    ]  # fmt: skip
    return _table(("forecast", *measures), rows)


def render_run_page(record: dict[str, Any], predictions: list[dict[str, Any]]) -> str:
    key = f"{record.get('run_key')} attempt {record.get('attempt', 1)}"
    facts = [
        ("state", record.get("state", "-")),
        ("package", record.get("package_version", "-")),
        ("hardware", f"{record.get('gpu_count', 1)}x {record.get('gpu_type', '-')} on {record.get('machine_type', '-')}"
                     f" in {record.get('region', '-')}"),
        ("strategy", record.get("strategy") or "-"),
        ("waited / ran", f"{record.get('wait_seconds', '-')} s / {record.get('run_seconds', '-')} s"),
        ("estimated GPU cost", money(record.get("estimated_cost_usd"))),
    ]  # fmt: skip
    parts = [f"<h1>Run {html.escape(key)}</h1>", _table(("", ""), facts)]
    summary = record.get("metrics_summary") or {}
    if summary.get("model"):
        verdict = edge_words(summary) or summary.get("verdict") or ""
        parts += ["<h2>Model against baselines</h2>", f"<p>{html.escape(verdict)}</p>", _scores(summary)]
    if predictions:
        rows = [
            (p["symbol"], p.get("target_date", "-"), price(p.get("last_close")), price(p.get("predicted_close")),
             percent(change(p)))
            for p in predictions
        ]  # fmt: skip
        parts += ["<h2>Predictions</h2>", _table(("symbol", "target date", "last close", "predicted", "change"), rows)]
    if record.get("plot_uri"):
        parts += ["<h2>Forecast</h2>", '<img alt="forecast" style="max-width:100%" src="model/forecast.png">']
    error = (record.get("error") or {}).get("message")
    if error:
        parts += ["<h2>Why it failed</h2>", f"<p>{html.escape(str(error))}</p>"]
        if record.get("hint"):
            parts.append(f"<p><b>What to do:</b> {html.escape(str(record['hint']))}</p>")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(key)}</title>'
        f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>"
    )


def write_run_page(storage: Any, record: dict[str, Any], predictions: list[dict[str, Any]]) -> str | None:
    """The page uploaded next to the artifacts; its `gs://` URI, or None for a run with no output directory."""
    output_uri = record.get("output_uri")
    if not isinstance(output_uri, str) or not output_uri.startswith("gs://"):
        return None
    uri = page_uri(output_uri)
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    blob = storage.bucket(bucket).blob(name)
    blob.upload_from_string(render_run_page(record, predictions), content_type="text/html; charset=utf-8")
    return uri
