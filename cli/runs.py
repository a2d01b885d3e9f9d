"""`flexrun` on a terminal: the recorded runs, one run in full, two runs side by side, and GPU cost.

    flexrun runs list [--limit N]
    flexrun runs show RUN_KEY [--attempt N]
    flexrun runs compare RUN_A RUN_B
    flexrun runs reconcile [--older-than MINUTES]   (and refresh the quota snapshot, as the scheduled tick does)
    flexrun cost --month 2026-11

It reads the same settings as the functions (MONGODB_URL and/or SUPABASE_URL + SUPABASE_KEY; with
both, MongoDB is read). argparse and plain text columns: nothing to install for a table of ten rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TextIO

from shared.cloud import wiring
from shared.config.settings import load_settings
from shared.errors import FlexrunError
from shared.notify.slack_text import console_url, duration
from shared.stores.base import RunStore

LIST_COLUMNS = ("run", "version", "gpu", "state", "wait", "duration", "cost", "rmse (naive)")


def _main_metric(run: dict[str, Any]) -> str:
    summary = run.get("metrics_summary") or {}
    model, naive = (summary.get("model") or {}).get("rmse"), (summary.get("naive_last_value") or {}).get("rmse")
    if model is None:
        return "-"
    return f"{model:.4g} ({naive:.4g})" if naive is not None else f"{model:.4g}"


def _cost(value: float | None) -> str:
    return "-" if value is None else f"${value:.2f}"


def table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def runs_list(store: RunStore, limit: int) -> str:
    rows = [
        (
            f"{run['run_key']}#{run['attempt']}",
            str(run.get("package_version", "-")),
            f"{run.get('gpu_count', 1)}x {run.get('gpu_type', '-')}",
            str(run.get("state")),
            duration(run.get("wait_seconds")),
            duration(run.get("run_seconds")),
            _cost(run.get("estimated_cost_usd")),
            _main_metric(run),
        )
        for run in store.latest_runs(limit)
    ]
    return table(rows, LIST_COLUMNS) if rows else "no runs recorded yet"


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def runs_show(store: RunStore, run_key: str, attempt: int) -> str:
    run = store.get(run_key, attempt)
    if run is None:
        raise FlexrunError(f"no run {run_key} (attempt {attempt})")
    lines = [f"{key}: {_shown(run[key])}" for key in sorted(run) if key != "metrics"]
    if url := console_url(run.get("job_name")):
        lines.append(f"console: {url}")
    predictions = store.predictions(run_key)
    if predictions:
        lines.append("predictions:")
        lines += [f"  {p['symbol']} {p['target_date']}: {p['predicted_close']:.4f}" for p in predictions]
    return "\n".join(lines)


COMPARED = (
    "state", "package_version", "gpu_type", "gpu_count", "machine_type", "region", "strategy", "wait_seconds",
    "run_seconds", "estimated_cost_usd", "total_cost_usd", "failure_class",
)  # fmt: skip


def runs_compare(store: RunStore, first: str, second: str) -> str:
    runs = []
    for run_key in (first, second):
        attempts = store.attempts(run_key)
        if not attempts:
            raise FlexrunError(f"no run {run_key}")
        runs.append(attempts[-1])
    rows: list[tuple[str, ...]] = [
        (key, _shown(runs[0].get(key, "-")), _shown(runs[1].get(key, "-"))) for key in COMPARED
    ]
    for forecast in ("model", "naive_last_value", "moving_average"):
        for measure in ("rmse", "mape", "directional_accuracy"):
            values = [((run.get("metrics_summary") or {}).get(forecast) or {}).get(measure, "-") for run in runs]
            rows.append((f"{forecast}.{measure}", *(_shown(v) for v in values)))
    return table(rows, ("field", first, second))


def cost_for_month(store: RunStore, month: str) -> str:
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=timezone.utc)
    end = (start + timedelta(days=32)).replace(day=1)
    per_gpu: dict[str, float] = defaultdict(float)
    runs = store.runs_ended_between(start, end)
    for run in runs:
        per_gpu[str(run.get("gpu_type", "-"))] += run.get("estimated_cost_usd") or 0.0
    rows = [(gpu, f"${usd:.2f}") for gpu, usd in sorted(per_gpu.items())]
    total = sum(per_gpu.values())
    return table([*rows, ("total", f"${total:.2f}")], ("gpu", f"cost {month}")) + f"\n{len(runs)} attempts ended"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="flexrun", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    runs = commands.add_parser("runs", help="recorded runs").add_subparsers(dest="action", required=True)
    listing = runs.add_parser("list", help="the latest runs, newest first")
    listing.add_argument("--limit", type=int, default=20)
    show = runs.add_parser("show", help="every field of one run, with links")
    show.add_argument("run_key")
    show.add_argument("--attempt", type=int, default=1)
    compare = runs.add_parser("compare", help="two runs side by side (their latest attempts)")
    compare.add_argument("first")
    compare.add_argument("second")
    reconcile = runs.add_parser("reconcile", help="read the jobs of runs still open and fix their records")
    reconcile.add_argument("--older-than", type=float, default=15.0, help="minutes (default 15)")
    cost = commands.add_parser("cost", help="estimated GPU cost of the attempts that ended in a month")
    cost.add_argument("--month", required=True, help="YYYY-MM")
    return top


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        store = wiring.run_store(settings)
        if args.command == "cost":
            text = cost_for_month(store, args.month)
        elif args.action == "list":
            text = runs_list(store, args.limit)
        elif args.action == "show":
            text = runs_show(store, args.run_key, args.attempt)
        elif args.action == "compare":
            text = runs_compare(store, args.first, args.second)
        else:
            from shared.runs.reconcile import reconcile_open_runs

            report = reconcile_open_runs(
                settings=settings,
                store=store,
                jobs_for_region=wiring.jobs_for_region(settings),
                storage=wiring.storage(settings),
                notifier=wiring.notifier(settings),
                publisher=wiring.run_requests_publisher(settings),
                older_than=timedelta(minutes=args.older_than),
            )
            text = f"checked {report.checked}, advanced {len(report.advanced)}, failed {len(report.failed)}"
            snapshot = wiring.refresh_quota_snapshot(settings)  # what the scheduled tick does after it
            text += f"; quota snapshot {'refreshed' if snapshot else 'not refreshed (see the log)'}"
    except (FlexrunError, ValueError) as exc:
        print(f"flexrun: {exc}", file=sys.stderr)
        return 1
    print(text, file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
