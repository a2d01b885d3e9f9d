"""The run report: one self-contained HTML page (inline SVG plots, PNGs as data URIs; no server, no CDN).

Sections, each with an id the Chromium test looks for: runs over time, wait and run time per GPU and
strategy, cost per day and month, the main metric against each baseline, latest predictions, forecasts.
matplotlib is imported here only (the CLI's `report`), never by a function.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from datetime import datetime
from typing import Any

from shared.notify.figures import change, edge_words, money, percent, price
from shared.notify.slack_text import duration

STATE_COLOURS = {"succeeded": "#2e7d32", "failed": "#c62828", "cancelled": "#757575", "expired": "#ef6c00"}
BASELINE_NAMES = ("naive_last_value", "drift", "moving_average", "majority_direction")
CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}"
    "th{background:#f3f3f3}td:first-child{text-align:left}section{margin-bottom:2em}"
    ".plot svg{max-width:100%;height:auto}img{max-width:100%}.empty{color:#888}"
)


def _svg(draw: Any) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 3.2))
    try:
        draw(axes)
        figure.tight_layout()
        out = io.StringIO()
        figure.savefig(out, format="svg")
    finally:
        plt.close(figure)
    text = out.getvalue()
    return '<div class="plot">' + text[text.index("<svg") :] + "</div>"


def _label(run: dict[str, Any]) -> str:
    return f"{run.get('gpu_count', 1)}x {run.get('gpu_type', '?')} / {run.get('strategy') or '-'}"


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(anchor: str, title: str, content: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{content}</section>'


def runs_over_time(runs: list[dict[str, Any]]) -> str:
    def draw(axes: Any) -> None:
        for state, colour in STATE_COLOURS.items():
            chosen = [run for run in runs if run.get("state") == state and run.get("requested_at")]
            axes.scatter([r["requested_at"] for r in chosen], [_label(r) for r in chosen], c=colour, label=state)
        from matplotlib import dates

        locator = dates.AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
        axes.set_title("runs by request time, coloured by final state")
        axes.legend(loc="best", fontsize="small")

    rows = [(r["run_key"], r.get("attempt", 1), _when(r.get("requested_at")), r.get("state"), _label(r)) for r in runs]
    return _svg(draw) + _table(("run", "attempt", "requested", "state", "gpu / strategy"), rows)


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if isinstance(moment, datetime) else "-"


def wait_and_run(runs: list[dict[str, Any]]) -> str:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[_label(run)].append(run)
    names = sorted(groups)

    def mean(group: list[dict[str, Any]], key: str) -> float:
        values = [r[key] for r in group if isinstance(r.get(key), int | float)]
        return sum(values) / len(values) if values else 0.0

    def draw(axes: Any) -> None:
        positions = range(len(names))
        axes.barh([p - 0.2 for p in positions], [mean(groups[n], "wait_seconds") / 60 for n in names], 0.4,
                  label="wait for capacity")  # fmt: skip
        axes.barh([p + 0.2 for p in positions], [mean(groups[n], "run_seconds") / 60 for n in names], 0.4,
                  label="run")  # fmt: skip
        axes.set_yticks(list(positions), names)
        axes.set_xlabel("minutes (mean per attempt)")
        axes.legend(fontsize="small")

    rows = [
        (n, len(groups[n]), duration(mean(groups[n], "wait_seconds")), duration(mean(groups[n], "run_seconds")))
        for n in names
    ]
    return _svg(draw) + _table(("gpu / strategy", "attempts", "mean wait", "mean run"), rows)


def cost(runs: list[dict[str, Any]]) -> str:
    per_day: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    per_month: dict[tuple[str, str], float] = defaultdict(float)
    for run in runs:
        usd, ended = run.get("estimated_cost_usd"), run.get("ended_at") or run.get("requested_at")
        if not isinstance(usd, int | float) or not isinstance(ended, datetime):
            continue
        per_day[ended.strftime("%Y-%m-%d")][str(run.get("gpu_type", "-"))] += usd
        per_month[(ended.strftime("%Y-%m"), str(run.get("gpu_type", "-")))] += usd
    days, gpus = sorted(per_day), sorted({gpu for day in per_day.values() for gpu in day})

    def draw(axes: Any) -> None:
        bottom = [0.0] * len(days)
        for gpu in gpus:
            heights = [per_day[day].get(gpu, 0.0) for day in days]
            axes.bar(days, heights, bottom=bottom, label=gpu)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        axes.set_ylabel("estimated GPU cost (USD)")
        axes.legend(fontsize="small")

    rows = [(month, gpu, money(usd)) for (month, gpu), usd in sorted(per_month.items())]
    return (_svg(draw) if days else '<p class="empty">no cost recorded</p>') + _table(("month", "gpu", "cost"), rows)


def metrics(runs: list[dict[str, Any]]) -> str:
    scored = [r for r in runs if (r.get("metrics_summary") or {}).get("model")]
    scored.sort(key=lambda r: r.get("requested_at") or datetime.min)
    if not scored:
        return '<p class="empty">no run has metrics yet</p>'
    main = scored[-1]["metrics_summary"].get("main_metric") or "rmse"
    forecasts = ("model", *BASELINE_NAMES)

    def value(run: dict[str, Any], forecast: str) -> float | None:
        found = (run["metrics_summary"].get(forecast) or {}).get(main)
        return float(found) if isinstance(found, int | float) else None

    def draw(axes: Any) -> None:
        labels = [f"{r['run_key']}#{r.get('attempt', 1)}" for r in scored]
        for forecast in forecasts:
            values = [value(r, forecast) for r in scored]
            if any(v is not None for v in values):
                axes.plot(
                    labels, values, marker="o", label=forecast.replace("_", " "), lw=2.5 if forecast == "model" else 1
                )
        axes.set_ylabel(f"{main} (test period, lower is better)")
        axes.tick_params(axis="x", labelrotation=20)
        axes.legend(fontsize="small")

    rows = []
    for run in scored:
        cells = [value(run, f) for f in forecasts]
        verdict = edge_words(run["metrics_summary"]) or run["metrics_summary"].get("verdict") or "-"
        rows.append(
            (
                f"{run['run_key']}#{run.get('attempt', 1)}",
                *(f"{c:.4g}" if c is not None else "-" for c in cells),
                verdict,
            )
        )
    return _svg(draw) + _table(("run", *(f.replace("_", " ") for f in forecasts), "verdict"), rows)


def predictions_table(predictions: list[dict[str, Any]]) -> str:
    if not predictions:
        return '<p class="empty">no predictions yet</p>'
    rows = [
        (p["symbol"], p.get("target_date", "-"), price(p.get("last_close")), price(p.get("predicted_close")),
         percent(change(p)), p.get("run_key", "-"))
        for p in predictions
    ]  # fmt: skip
    return _table(("symbol", "target date", "last close", "predicted close", "change", "run"), rows)


def forecasts(plots: dict[str, bytes]) -> str:
    if not plots:
        return '<p class="empty">no forecast plot readable from storage</p>'
    return "".join(
        f'<figure><img alt="forecast {html.escape(key)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"><figcaption>{html.escape(key)}</figcaption></figure>'
        for key, png in plots.items()
    )


def render_report(
    runs: list[dict[str, Any]], predictions: list[dict[str, Any]], plots: dict[str, bytes], generated: datetime
) -> str:
    """The whole page; `plots` maps `RUN_KEY#ATTEMPT` to the trainer's forecast.png bytes."""
    body = "".join(
        (
            _section("runs-over-time", "Runs over time", runs_over_time(runs)),
            _section("wait-and-run", "Wait and run time per GPU and strategy", wait_and_run(runs)),
            _section("cost", "Cost per day and month per GPU", cost(runs)),
            _section("metrics", "Main metric against each baseline", metrics(runs)),
            _section("predictions", "Latest predictions per symbol", predictions_table(predictions)),
            _section("forecasts", "Forecast plots", forecasts(plots)),
        )
    )
    title = f"flexrun report — {len(runs)} attempts, {generated:%Y-%m-%d %H:%M} UTC"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
