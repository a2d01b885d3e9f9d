"""Numbers as people read them: money with enough digits to mean something, changes as signed percent.

One place, so Slack, the CLI, the demo and the report pages print the same `$0.0052` for the same run.
"""

from __future__ import annotations

import math
from typing import Any


def money(usd: float | None) -> str:
    """`$12.34` from a dollar up; below, two significant digits (`$0.0052`): a short run's cost is not `$0.01`."""
    if usd is None:
        return "-"
    if usd == 0:
        return "$0.00"
    if abs(usd) >= 1:
        return f"${usd:,.2f}"
    if abs(usd) < 0.0001:
        return "<$0.0001"
    decimals = max(2, 1 - math.floor(math.log10(abs(usd))))  # two significant digits: 0.0052, 0.052, 0.52
    return f"${usd:.{decimals}f}"


UNPRICED = "unknown (no verified price for this GPU and strategy)"


def cost_or_unknown(usd: float | None) -> str:
    """A recorded cost, or why there is none (shared/runs/cost.py leaves it unset without a verified price)."""
    return UNPRICED if usd is None else money(usd)


def change(prediction: dict[str, Any]) -> float | None:
    """The predicted change from the last close, as a fraction (from the prices when the return is absent)."""
    last, predicted = prediction.get("last_close"), prediction.get("predicted_close")
    if isinstance(last, int | float) and isinstance(predicted, int | float) and last:
        return predicted / last - 1
    value = prediction.get("predicted_return")
    return float(value) if isinstance(value, int | float) else None


def percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction:+.2%}"


def price(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, int | float) else "-"


def top_predictions(predictions: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The `count` forecasts that move most (either way): what a reader looks at first."""
    return sorted(predictions, key=lambda p: -abs(change(p) or 0.0))[:count]


def edge_words(summary: dict[str, Any] | None) -> str | None:
    """The trainer's verdict (metrics.json schema 2) in plain words, each baseline named."""
    if not summary or not isinstance(summary.get("edge"), dict):
        return None
    beaten = [name.replace("_", " ") for name, edge in summary["edge"].items() if edge]
    not_beaten = [name.replace("_", " ") for name, edge in summary["edge"].items() if not edge]
    if beaten and not not_beaten:
        words = "The model beats every baseline (significant at the 5 % level)."
    elif beaten:
        words = f"The model beats {', '.join(beaten)} but not {', '.join(not_beaten)} (5 % level)."
    else:
        words = "The model shows no significant edge over any baseline: don't trade on it."
    return words


def plain(value: Any) -> dict[str, Any]:
    """A `RunRecord` or `Prediction` (shared/runs/record.py) as the plain fields these views read."""
    dump = getattr(value, "model_dump", None)
    return dict(dump(exclude_none=True)) if dump else dict(value)
