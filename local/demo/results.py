"""What `make demo` prints at the end, as text a person reads: the run, its predictions, the model
against its baselines, where the record is stored (read back from each store), the Slack message.

Pure functions of records and messages, so tests check them on a real record without a local cloud.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.notify.figures import change, cost_or_unknown, edge_words, percent, price
from shared.notify.slack_text import duration

FORECASTS = ("model", "naive_last_value", "drift", "moving_average", "majority_direction")
MEASURES = (("rmse_return", "RMSE ret"), ("mae_return", "MAE ret"), ("mase", "MASE"), ("mape", "MAPE %"),
            ("directional_accuracy", "direction"))  # fmt: skip
# What "the same record" means across stores: the fields a reader uses (lease bookkeeping aside).
COMPARED = ("run_key", "attempt", "state", "job_name", "gpu_type", "gpu_count", "strategy", "wait_seconds",
            "run_seconds", "estimated_cost_usd", "prediction_count", "plot_uri")  # fmt: skip


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: bool = True) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(row: Sequence[str]) -> str:
        cells = [str(c).ljust(w) if i == 0 or not right else str(c).rjust(w) for i, (c, w) in
                 enumerate(zip(row, widths, strict=True))]  # fmt: skip
        return "  " + "  ".join(cells).rstrip()

    return "\n".join([line(header), "  " + "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def run_summary(record: dict[str, Any]) -> str:
    rows = [
        ("run", f"{record.get('run_key')} attempt {record.get('attempt', 1)}: {record.get('state')}"),
        ("package", str(record.get("package_version", "-"))),
        ("hardware", f"{record.get('gpu_count', 1)}x {record.get('gpu_type')} on {record.get('machine_type')} in "
                     f"{record.get('region')} ({record.get('strategy') or '-'})"),
        ("waited / ran", f"{duration(record.get('wait_seconds'))} / {duration(record.get('run_seconds'))}"),
        ("estimated GPU cost", cost_or_unknown(record.get("estimated_cost_usd"))),
        ("outputs", str(record.get("output_uri", "-"))),
    ]  # fmt: skip
    return "\n".join(f"  {label + ':':<20} {value}" for label, value in rows)


def predictions_table(predictions: list[dict[str, Any]]) -> str:
    if not predictions:
        return "  (no predictions: the trainer wrote none, or the run did not succeed)"
    rows = [
        (str(p["symbol"]), str(p.get("target_date", "-")), price(p.get("last_close")), price(p.get("predicted_close")),
         percent(change(p)))
        for p in sorted(predictions, key=lambda p: str(p["symbol"]))
    ]  # fmt: skip
    return table(("symbol", "target date", "last close", "predicted close", "change"), rows)


def metrics_table(summary: dict[str, Any] | None) -> str:
    if not summary or not summary.get("model"):
        return "  (no metrics: the run did not succeed or metrics.json was unreadable)"
    measures = [(key, label) for key, label in MEASURES if key in summary["model"]]
    rows = []
    for forecast in FORECASTS:
        scores = summary.get(forecast)
        if not isinstance(scores, dict):
            continue
        cells = []
        for key, _ in measures:
            value = scores.get(key)
            cells.append("-" if not isinstance(value, int | float) else
                         f"{value:.1%}" if key == "directional_accuracy" else f"{value:.4g}")  # fmt: skip
        edge = (summary.get("edge") or {}).get(forecast)
        rows.append((forecast.replace("_", " "), *cells, "-" if edge is None else "yes" if edge else "no"))
    text = table(("forecast", *(label for _, label in measures), "model has edge"), rows)
    period = summary.get("test_period") or {}
    if period:
        text = f"  test period {period.get('first_target_date')} .. {period.get('last_target_date')}\n" + text
    verdict = edge_words(summary) or summary.get("verdict")
    return text + (f"\n  verdict: {verdict}" if verdict else "")


def stores_section(readbacks: dict[str, dict[str, Any] | None]) -> str:
    """Each store's copy of the run, read back: found or not, and whether it agrees with the first one."""
    lines: list[str] = []
    first: dict[str, Any] | None = None
    for store, found in readbacks.items():
        if found is None:
            lines.append(f"  {store:<9} NOT FOUND")
            continue
        earlier, first = first, first or found
        differs = [key for key in COMPARED if found.get(key) != first.get(key)]
        agreement = "same as above" if earlier is not None and not differs else ""
        if differs:
            agreement = "differs in " + ", ".join(differs)
        line = f"  {store:<9} {found.get('run_key')} attempt {found.get('attempt', 1)}: {found.get('state')}"
        line += f", {found.get('prediction_count', 0)} predictions"
        lines.append(line + (f" ({agreement})" if agreement else ""))
    return "\n".join(lines)


def slack_section(messages: list[dict[str, Any]]) -> str:
    """Each message as the webhook received it: its blocks' text (what Slack shows), else its fallback text."""
    out = []
    for message in messages:
        texts = []
        for block in message.get("blocks") or []:
            if isinstance(block.get("text"), dict):
                texts.append(str(block["text"].get("text", "")))
            texts += [
                str(f.get("text", "")).replace("\n", " ") for f in block.get("fields") or [] if isinstance(f, dict)
            ]
        body = "\n".join(texts) or str(message.get("text", ""))
        out.append("\n".join("  | " + line for line in body.splitlines()))
    return "\n\n".join(out) or "  (no message received)"
