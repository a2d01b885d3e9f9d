"""What `make demo` ends with, on a record shaped as job-state stores it: predictions, metrics, stores, Slack."""

from __future__ import annotations

from local.demo import results
from shared.notify.slack_text import run_finished
from tests.unit.run_samples import predictions, record, typed


def test_the_predictions_table_shows_each_symbol_with_its_closes_and_change():
    text = results.predictions_table(predictions())
    header, _, *rows = text.splitlines()
    assert header.split() == ["symbol", "target", "date", "last", "close", "predicted", "close", "change"]
    assert [row.split()[0] for row in rows] == ["IXIC", "MSFT", "SPX"]
    assert rows[1].split() == ["MSFT", "2017-11-13", "84.09", "84.51", "+0.50%"]


def test_the_metrics_table_puts_the_model_above_each_baseline_with_the_verdict():
    text = results.metrics_table(record()["metrics_summary"])
    names = [line.split()[0] for line in text.splitlines()[2:7]]
    assert names == ["model", "naive", "drift", "moving", "majority"]
    assert "verdict: The model beats moving average but not naive last value, drift, majority direction" in text


def test_the_stores_section_reads_back_both_stores_and_says_when_they_agree():
    text = results.stores_section({"MongoDB": record(), "Supabase": record()})
    mongo, supabase = text.splitlines()
    assert mongo.split()[:4] == ["MongoDB", "nightly-1", "attempt", "1:"] and "same as above" in supabase
    assert "differs in state" in results.stores_section({"MongoDB": record(), "Supabase": record(state="failed")})
    assert "NOT FOUND" in results.stores_section({"MongoDB": record(), "Supabase": None})


def test_the_slack_section_shows_the_message_as_received():
    message = run_finished(typed())
    text = results.slack_section([{"text": message.text, "blocks": message.blocks}])
    assert "Run `nightly-1` succeeded" in text and all(line.startswith("  | ") for line in text.splitlines())


def test_the_run_summary_shows_cost_below_a_dollar_with_meaningful_digits():
    assert "$0.0052" in results.run_summary(record())
