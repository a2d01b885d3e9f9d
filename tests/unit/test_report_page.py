"""`flexrun report`'s page: every section populated, rendered by a real browser (headless Chromium)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from cli.report_page import render_report
from tests.unit.run_samples import predictions, record

# The smallest valid PNG (1x1): stands in for the trainer's forecast.png.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082"
)
SECTIONS = ("runs-over-time", "wait-and-run", "cost", "metrics", "predictions", "forecasts")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")  # fmt: skip


def _runs() -> list[dict]:
    return [
        record("nightly-1"),
        record("nightly-2", day=1, state="failed", gpu_type="NVIDIA_A100", machine_type="a2-highgpu-1g",
               strategy="SPOT", estimated_cost_usd=0.41, metrics_summary=None),
        record("nightly-3", day=33, wait_seconds=900.0, estimated_cost_usd=1.25),
    ]  # fmt: skip


def _page(tmp_path) -> str:
    page = render_report(_runs(), predictions("nightly-3"), {"nightly-3#1": PNG}, datetime(2026, 12, 30, tzinfo=UTC))
    (tmp_path / "report.html").write_text(page, encoding="utf-8")
    return page


def _section(dom: str, anchor: str) -> str:
    found = re.search(rf'<section id="{anchor}">(.*?)</section>', dom, re.S)
    assert found, f"section {anchor} missing"
    return found.group(1)


def test_the_report_is_self_contained_and_shows_every_run_metric_and_prediction(tmp_path):
    page = _page(tmp_path)
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<script" not in page and "<link" not in page
    for anchor in SECTIONS:
        assert 'class="empty"' not in _section(page, anchor), anchor
    assert "$0.0052" in _section(page, "cost") and "$1.25" in _section(page, "cost")
    assert "beats moving average but not naive last value" in _section(page, "metrics")
    assert "+0.50%" in _section(page, "predictions")  # MSFT 84.09 → 84.51


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_the_report_renders_in_headless_chromium_with_every_section_populated(tmp_path):
    _page(tmp_path)
    url = (tmp_path / "report.html").as_uri()
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120,
                         check=True).stdout  # fmt: skip
    for anchor in ("runs-over-time", "wait-and-run", "cost", "metrics"):
        assert "<svg" in _section(dom, anchor) and "<td>" in _section(dom, anchor), anchor
    assert _section(dom, "predictions").count("<tr>") == 4  # header + three symbols
    assert 'src="data:image/png;base64,' in _section(dom, "forecasts")
    shot = tmp_path / "report.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1280,2400", url],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 20_000
    shutil.copy(shot, os.environ.get("FLEXRUN_REPORT_SCREENSHOT", tmp_path / "kept.png"))  # to look at it
