"""`flexrun runs show`: one attempt in sections a person reads, and every field as JSON for scripts."""

from __future__ import annotations

import json

from cli.runs_show import runs_show_json, runs_show_text
from shared.runs.record import Prediction
from tests.unit.run_samples import predictions, typed

ROWS = [Prediction.model_validate(row) for row in predictions()]


def test_show_groups_the_run_into_sections_in_reading_order():
    text = runs_show_text(typed(report_uri="gs://flexrun-runs/runs/nightly-1/attempt-1/report.html"), ROWS)
    sections = {block.splitlines()[0]: block for block in text.split("\n\n")}
    assert list(sections) == ["run", "hardware and strategy", "timeline", "cost", "metrics (test period)",
                              "predictions", "artifacts and links"]  # fmt: skip
    assert "1x NVIDIA_L4 on g2-standard-8 in us-central1" in sections["hardware and strategy"]
    assert "$0.0052" in sections["cost"] and "4m00s" in sections["timeline"]
    assert "moving average" in sections["metrics (test period)"] and "verdict: The model beats" in text
    assert "MSFT  2017-11-13: 84.09 -> 84.51 (+0.50%)" in sections["predictions"]
    assert "https://storage.cloud.google.com/flexrun-runs/" in sections["artifacts and links"]


def test_a_failed_run_shows_why_and_what_to_do():
    text = runs_show_text(
        typed(state="failed", error={"message": "stockout"}, hint="try SPOT", failure_class="stockout"), []
    )
    assert "failure\n" in text and "try SPOT" in text and "predictions\n" not in text


def test_show_json_carries_every_field_and_the_predictions():
    document = json.loads(runs_show_json(typed(), ROWS))
    assert document["run_key"] == "nightly-1" and document["estimated_cost_usd"] == 0.0052
    assert [p["symbol"] for p in document["predictions"]] == ["SPX", "IXIC", "MSFT"]
