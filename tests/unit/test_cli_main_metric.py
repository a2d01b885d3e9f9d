"""`flexrun runs list` shows the main metric next to naive's, and says when there is no significant edge."""

from __future__ import annotations

from cli.runs import _main_metric, runs_compare
from shared.runs.record import RunRecord
from tests.unit.run_samples import typed


def test_schema_2_shows_the_return_rmse_and_the_edge_verdict():
    summary = {"main_metric": "rmse_return", "model": {"rmse_return": 0.00708},
               "naive_last_value": {"rmse_return": 0.00721}, "edge": {"naive_last_value": False}}  # fmt: skip
    assert _main_metric(typed(metrics_summary=summary)) == "0.00708 (0.00721), no edge"


def test_schema_1_keeps_the_price_rmse():
    summary = {"main_metric": "rmse", "model": {"rmse": 22.25}, "naive_last_value": {"rmse": 22.77}}
    assert _main_metric(typed(metrics_summary=summary)) == "22.25 (22.77)"
    assert _main_metric(typed(metrics_summary=None)) == "-"


class _Attempts:
    def __init__(self, *runs: RunRecord) -> None:
        self.runs = {run.run_key: run for run in runs}

    def attempts(self, run_key: str) -> list[RunRecord]:
        return [self.runs[run_key]] if run_key in self.runs else []


def test_runs_compare_shows_the_measures_each_run_has_across_every_forecast():
    new = typed("nightly-2", metrics_summary={"main_metric": "rmse_return", "model": {"rmse_return": 0.0071},
                                               "drift": {"rmse_return": 0.0072}})  # fmt: skip
    old = typed("nightly-1", metrics_summary={"main_metric": "rmse", "model": {"rmse": 22.25}})
    text = runs_compare(_Attempts(new, old), "nightly-2", "nightly-1")  # type: ignore[arg-type]
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[2:]}
    assert rows["model.rmse_return"] == ["0.0071", "-"] and rows["drift.rmse_return"] == ["0.0072", "-"]
    assert rows["model.rmse"] == ["-", "22.25"]
    assert "model.mape" not in rows  # a measure neither run has is no row
