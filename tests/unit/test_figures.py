"""Numbers as people read them: cost with meaningful digits, predicted change, the edge verdict in words."""

from __future__ import annotations

import pytest

from shared.notify.figures import change, edge_words, money, top_predictions
from tests.unit.run_samples import predictions, record


@pytest.mark.parametrize(
    "usd, shown",
    [(0.0052, "$0.0052"), (0.05234, "$0.052"), (0.5, "$0.50"), (12.345, "$12.35"), (1234.5, "$1,234.50"),
     (0.0, "$0.00"), (0.00004, "<$0.0001"), (None, "-")],
)  # fmt: skip
def test_money_keeps_two_significant_digits_below_a_dollar(usd, shown):
    assert money(usd) == shown


def test_the_change_comes_from_the_closes_and_the_biggest_movers_come_first():
    rows = predictions()
    assert change(rows[2]) == pytest.approx(84.51 / 84.09 - 1)
    assert [p["symbol"] for p in top_predictions(rows, 2)] == ["MSFT", "IXIC"]


def test_the_edge_verdict_names_what_the_model_beats_and_what_it_does_not():
    summary = record()["metrics_summary"]
    assert edge_words(summary) == (
        "The model beats moving average but not naive last value, drift, majority direction (5 % level)."
    )
    none = {**summary, "edge": dict.fromkeys(summary["edge"], False)}
    assert "no significant edge over any baseline" in edge_words(none)
    assert edge_words({"model": {}}) is None
