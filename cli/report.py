"""`flexrun report [--out FILE]`: the run store as one HTML page to open in a browser (cli/report_page.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from cli.target import DEFAULT_ENV_FILE, load_target
from shared.notify.figures import plain

PLOTS_SHOWN = 6  # the newest runs' forecast plots; each PNG is ~100 kB inline


def read_plots(storage: Any, runs: list[dict[str, Any]], limit: int = PLOTS_SHOWN) -> dict[str, bytes]:
    """`RUN_KEY#ATTEMPT` → forecast.png bytes for the newest runs whose plot storage still has."""
    from shared.cloud.http import ApiError

    plots: dict[str, bytes] = {}
    for run in runs:
        uri = run.get("plot_uri")
        if len(plots) >= limit or not isinstance(uri, str) or not uri.startswith("gs://"):
            continue
        bucket, _, name = uri.removeprefix("gs://").partition("/")
        try:
            plots[f"{run['run_key']}#{run.get('attempt', 1)}"] = storage.bucket(bucket).blob(name).download_as_bytes()
        except (ApiError, OSError):
            continue  # an expired or unreadable object: the page says which runs have no plot
    return plots


@click.command()
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("flexrun-report.html"),
              show_default=True, help="Where to write the page.")  # fmt: skip
@click.option("--limit", default=200, show_default=True, help="Newest attempts to include.")
def report(out: Path, limit: int) -> None:
    """Write a self-contained HTML report of the recorded runs (plots inline; open it in any browser)."""
    from cli.report_page import render_report
    from shared.cloud import wiring

    target = load_target(os.environ.get("FLEXRUN_ENV_FILE", DEFAULT_ENV_FILE))
    store = wiring.run_store(target.settings)
    runs = [plain(run) for run in store.latest_runs(limit)]
    predictions = [plain(row) for row in store.latest_predictions()]
    page = render_report(runs, predictions, read_plots(wiring.storage(target.settings), runs), datetime.now(UTC))
    out.write_text(page, encoding="utf-8")
    click.echo(f"wrote {out} ({len(runs)} attempts, {len(page) // 1024} kB)")
