"""The Slack message of a finished run: outcome, hardware, wait, run time, cost, model vs naive, links, hint."""

from __future__ import annotations

import datetime as dt
import json

from shared.notify.slack_text import console_url, run_finished
from tests.records import a_record

FIELDS = {
    "run_key": "nightly-20261127",
    "attempt": 2,
    "state": "succeeded",
    "package_version": "0.1.0",
    "gpu_type": "NVIDIA_L4",
    "gpu_count": 1,
    "machine_type": "g2-standard-4",
    "region": "us-east4",
    "strategy": "FLEX_START",
    "step_label": "L4@us-east4:FLEX_START",
    "job_id": "42",
    "job_name": "projects/acme/locations/us-east4/customJobs/42",
    "wait_seconds": 754.0,
    "run_seconds": 3725.0,
    "estimated_cost_usd": 0.73,
    "total_cost_usd": 0.91,
    "metrics_summary": {
        "model": {"rmse": 22.25, "mape": 0.485, "directional_accuracy": 0.56},
        "naive_last_value": {"rmse": 22.77, "mape": 0.49, "directional_accuracy": 0.475},
    },
    "plot_uri": "gs://staging/runs/nightly-20261127/attempt-2/model/forecast.png",
}
RECORD = a_record(**FIELDS)


def test_a_success_says_what_ran_how_long_it_waited_and_cost_and_how_good_the_model_is():
    message = run_finished(RECORD)
    blocks = json.dumps(message.blocks)
    assert "`nightly-20261127` succeeded" in message.text and "(attempt 2)" in message.text
    assert "RMSE 22.25 (naive 22.77)" in message.text
    for shown in ("12m34s", "1h02m05s", "$0.73 (run total $0.91)", "fallback step L4@us-east4:FLEX_START"):
        assert shown in blocks
    assert console_url(RECORD.job_name) in blocks and "forecast.png" in blocks


def test_a_failure_says_why_and_what_to_do():
    error = {"code": 3, "message": "exited with a non-zero status of 127"}
    failed = {**FIELDS, "state": "failed", "metrics_summary": None, "failure_class": "python_not_found"}
    message = run_finished(a_record(**failed, error=error, hint="check PATH"))
    assert "status of 127" in message.text
    assert "*What to do:* check PATH" in json.dumps(message.blocks) and "python_not_found" in json.dumps(message.blocks)


def test_a_job_name_that_is_not_a_custom_job_gets_no_console_link():
    assert console_url("projects/p/locations/l/hyperparameterTuningJobs/1") is None
    assert console_url(None) is None


def test_a_success_says_in_plain_words_when_the_model_has_no_significant_edge():
    summary = {"model": {"mase": 0.572, "directional_accuracy": 0.56}, "naive_last_value": {"mase": 0.58},
               "majority_direction": {"directional_accuracy": 0.542}, "edge": {"naive_last_value": False},
               "verdict": "no significant edge over naive last value"}  # fmt: skip
    message = run_finished(a_record(**{**FIELDS, "metrics_summary": summary}))
    assert "no significant edge over naive last value" in message.text
    assert "MASE 0.572 (naive 0.58)" in message.text and "(majority 54.2%)" in message.text


PREBUILT = "us-docker.pkg.dev/vertex-ai/training/tf-gpu.2-17.py310:latest"


def test_a_run_whose_image_ends_within_60_days_warns_with_the_date():
    message = run_finished(a_record(**{**FIELDS, "executor_image": PREBUILT}), today=dt.date(2026, 5, 20))
    blocks = json.dumps(message.blocks)
    assert f"Image `{PREBUILT}` reaches its end of availability on 2026-07-11 (in 52 days)" in blocks
    assert "unset VERTEX_AI_EXECUTOR_IMAGE" in blocks


def test_a_run_on_an_image_far_from_its_end_carries_no_warning():
    ours = "us-central1-docker.pkg.dev/acme/flexrun/trainer:tf2.21.0-py3.11"
    assert "Image `" not in json.dumps(
        run_finished(a_record(**{**FIELDS, "executor_image": ours}), today=dt.date(2026, 12, 1)).blocks
    )
    warned = run_finished(a_record(**{**FIELDS, "executor_image": ours}), today=dt.date(2027, 9, 30)).blocks
    assert "reaches its end of patch on 2027-10-31 (in 31 days)" in json.dumps(warned)


def test_a_success_shows_the_biggest_predicted_moves_with_their_change():
    from shared.runs.record import Prediction

    closes = [("SPX", 2582.3, 2584.06), ("IXIC", 6750.9, 6731.2), ("MSFT", 84.09, 84.51)]
    rows = [
        Prediction(symbol=s, target_date="2017-11-13", last_close=last, predicted_close=new) for s, last, new in closes
    ]
    blocks = json.dumps(run_finished(RECORD, predictions=rows).blocks)
    assert "MSFT 2017-11-13: 84.09 \\u2192 84.51 (+0.50%)" in blocks
    assert blocks.index("MSFT") < blocks.index("IXIC") < blocks.index("SPX")  # biggest move first
    many = [Prediction(symbol=f"S{i}", target_date="2017-11-13", predicted_close=1.0) for i in range(8)]
    assert "and 3 more" in json.dumps(run_finished(RECORD, predictions=many).blocks)


def test_the_edge_verdict_is_said_in_plain_words_and_the_report_is_linked():
    summary = {"model": {"mase": 0.57}, "edge": {"naive_last_value": False, "moving_average": True},
               "verdict": "significant edge over moving average"}  # fmt: skip
    message = run_finished(a_record(**{**FIELDS, "metrics_summary": summary}), report_url="https://r/report.html")
    blocks = json.dumps(message.blocks)
    assert "*Can we trust it?* The model beats moving average but not naive last value" in blocks
    assert "<https://r/report.html|Run report>" in blocks


def test_a_cost_below_a_dollar_keeps_its_significant_digits():
    blocks = json.dumps(
        run_finished(a_record(**{**FIELDS, "estimated_cost_usd": 0.0052, "total_cost_usd": 0.0104})).blocks
    )
    assert "$0.0052 (run total $0.010)" in blocks


def test_a_job_without_a_verified_price_says_its_cost_is_unknown():
    blocks = json.dumps(run_finished(a_record(**{**FIELDS, "estimated_cost_usd": None, "total_cost_usd": None})).blocks)
    assert "unknown (no verified price for this GPU and strategy)" in blocks
