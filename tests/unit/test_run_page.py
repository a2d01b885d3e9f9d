"""The per-run page job-state writes next to the artifacts: facts, verdict, predictions, the trainer's plot."""

from __future__ import annotations

import re

from shared.notify.run_page import browser_url, render_run_page, write_run_page
from tests.unit.run_samples import predictions, record


class Blob:
    def __init__(self, uploads: dict, name: str) -> None:
        self.uploads, self.name = uploads, name

    def upload_from_string(self, text: str, content_type: str) -> None:
        self.uploads[self.name] = (text, content_type)


class Storage:
    def __init__(self) -> None:
        self.uploads: dict = {}

    def bucket(self, name: str):
        return type("Bucket", (), {"blob": lambda _, blob: Blob(self.uploads, f"{name}/{blob}")})()


def test_the_page_shows_the_verdict_the_predictions_and_the_plot_beside_it():
    page = render_run_page(record(), predictions())
    assert "The model beats moving average but not naive last value" in page
    assert re.search(r"<td>MSFT</td><td>2017-11-13</td><td>84.09</td><td>84.51</td><td>\+0.50%</td>", page)
    assert 'src="model/forecast.png"' in page and "$0.0052" in page and "<script" not in page


def test_a_failed_run_page_says_why_and_what_to_do():
    page = render_run_page(record(state="failed", error={"message": "no capacity"}, hint="try SPOT"), [])
    assert "no capacity" in page and "try SPOT" in page


def test_the_page_is_uploaded_next_to_the_artifacts_as_html():
    storage = Storage()
    uri = write_run_page(storage, record(), predictions())
    assert uri == "gs://flexrun-runs/runs/nightly-1/attempt-1/report.html"
    text, content_type = storage.uploads["flexrun-runs/runs/nightly-1/attempt-1/report.html"]
    assert content_type.startswith("text/html") and "<h1>Run nightly-1 attempt 1</h1>" in text
    assert browser_url(uri) == "https://storage.cloud.google.com/flexrun-runs/runs/nightly-1/attempt-1/report.html"
