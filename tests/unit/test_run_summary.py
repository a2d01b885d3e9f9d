"""`flexrun run --wait` ends with one paragraph: outcome, hardware, wait, cost, verdict, what next."""

from __future__ import annotations

from cli.run import summary_paragraph
from tests.unit.run_samples import record


def test_a_succeeded_run_reads_as_one_paragraph_with_cost_and_verdict():
    text = summary_paragraph(record())
    assert "\n" not in text
    assert text.startswith("Run nightly-1 succeeded on attempt 1: 1x NVIDIA_L4 in us-central1 (FLEX_START)")
    assert "waited 4m00s for capacity, ran 1m02s, estimated GPU cost $0.0052. 3 predictions stored." in text
    assert "The model beats moving average" in text and text.endswith("flexrun runs show nightly-1.")


def test_a_failed_run_says_why_and_what_to_do():
    failed = record(state="failed", error={"message": "quota exceeded"}, hint="ask for quota", prediction_count=0,
                    metrics_summary=None)  # fmt: skip
    assert "Why: quota exceeded What to do: ask for quota" in summary_paragraph(failed)
