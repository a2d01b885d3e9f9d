"""`flexrun runs list` shows the main metric next to naive's, and says when there is no significant edge."""

from __future__ import annotations

from cli.runs import _main_metric
from tests.unit.run_samples import typed


def test_schema_2_shows_the_return_rmse_and_the_edge_verdict():
    summary = {"main_metric": "rmse_return", "model": {"rmse_return": 0.00708},
               "naive_last_value": {"rmse_return": 0.00721}, "edge": {"naive_last_value": False}}  # fmt: skip
    assert _main_metric(typed(metrics_summary=summary)) == "0.00708 (0.00721), no edge"


def test_schema_1_keeps_the_price_rmse():
    summary = {"main_metric": "rmse", "model": {"rmse": 22.25}, "naive_last_value": {"rmse": 22.77}}
    assert _main_metric(typed(metrics_summary=summary)) == "22.25 (22.77)"
    assert _main_metric(typed(metrics_summary=None)) == "-"
