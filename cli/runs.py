"""`flexrun runs ...` and `flexrun cost`: the recorded runs, one run in full, two side by side, GPU cost.

    flexrun runs list [--limit N]
    flexrun runs show RUN_KEY [--attempt N]
    flexrun runs compare RUN_A RUN_B
    flexrun runs reconcile [--older-than MINUTES]   (and refresh the quota snapshot, as the scheduled tick does)
    flexrun cost --month 2026-11

They read the same settings as the functions (MONGODB_URL and/or SUPABASE_URL + SUPABASE_KEY; with
both, MongoDB is read), found as every command finds them (cli/target.py: the local cloud's env file
when it exists). Plain text columns: nothing to install for a table of ten rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import click

from cli.runs_show import FORECASTS, MEASURES
from cli.target import DEFAULT_ENV_FILE, Target, load_target
from shared.notify.figures import money
from shared.notify.slack_text import duration
from shared.runs.record import RunRecord
from shared.stores.base import RunStore

LIST_COLUMNS = ("run", "version", "gpu", "state", "wait", "duration", "cost", "main metric (naive)")
ENV_FILE_HELP = "Settings of the local cloud; used when the file exists. '' = use the environment only (production)."


def _main_metric(run: RunRecord) -> str:
    """`0.00708 (0.00721), no edge`: metrics schema 2's main metric is the RMSE of returns, and its
    edge verdict (significant at 5 %) is said in words; schema 1 showed the RMSE in price units."""
    summary = run.metrics_summary or {}
    metric = summary.get("main_metric") or "rmse"
    model, naive = (summary.get("model") or {}).get(metric), (summary.get("naive_last_value") or {}).get(metric)
    if model is None:
        return "-"
    text = f"{model:.4g} ({naive:.4g})" if naive is not None else f"{model:.4g}"
    edge = (summary.get("edge") or {}).get("naive_last_value")
    return text if edge is None else f"{text}, {'edge' if edge else 'no edge'}"


def _cost(value: float | None) -> str:
    return money(value)


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
            run.label,
            run.package_version,
            f"{run.gpu_count}x {run.gpu_type}",
            run.state.value,
            duration(run.wait_seconds),
            duration(run.run_seconds),
            _cost(run.estimated_cost_usd),
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


def _native(run: RunRecord, key: str, as_json: Any) -> Any:
    """Times as `isoformat` writes them; everything else as JSON (the error, the chain)."""
    value = getattr(run, key, None)
    return value if isinstance(value, datetime) else as_json


def runs_show(store: RunStore, run_key: str, attempt: int, as_json: bool = False) -> str:
    from cli.runs_show import runs_show_json, runs_show_text

    run = store.get(run_key, attempt)
    if run is None:
        raise click.ClickException(f"no run {run_key} (attempt {attempt})")
    predictions = [p for p in store.predictions(run_key) if p.attempt == attempt]
    return (runs_show_json if as_json else runs_show_text)(run, predictions)


COMPARED = (
    "state", "package_version", "gpu_type", "gpu_count", "machine_type", "region", "strategy", "wait_seconds",
    "run_seconds", "estimated_cost_usd", "total_cost_usd", "failure_class",
)  # fmt: skip


def runs_compare(store: RunStore, first: str, second: str) -> str:
    runs = []
    for run_key in (first, second):
        attempts = store.attempts(run_key)
        if not attempts:
            raise click.ClickException(f"no run {run_key}")
        runs.append(attempts[-1])

    def value(run: RunRecord, key: str) -> str:
        found = getattr(run, key)
        return "-" if found is None else _shown(found)

    rows: list[tuple[str, ...]] = [(key, value(runs[0], key), value(runs[1], key)) for key in COMPARED]
    summaries = [run.metrics_summary or {} for run in runs]
    for forecast in FORECASTS:
        for measure in MEASURES:
            values = [(summary.get(forecast) or {}).get(measure) for summary in summaries]
            if any(v is not None for v in values):  # a measure neither run's schema has is no row
                rows.append((f"{forecast}.{measure}", *("-" if v is None else _shown(v) for v in values)))
    return table(rows, ("field", first, second))


def cost_for_month(store: RunStore, month: datetime) -> str:
    start = month.replace(day=1, hour=0, minute=0, second=0, microsecond=0, tzinfo=timezone.utc)
    end = (start + timedelta(days=32)).replace(day=1)
    costs = store.cost_by_gpu(start, end)
    rows = [(cost.gpu_type, money(cost.usd)) for cost in costs]
    total, attempts = sum(cost.usd for cost in costs), sum(cost.attempts for cost in costs)
    label = f"cost {start:%Y-%m}"
    return table([*rows, ("total", money(total))], ("gpu", label)) + f"\n{attempts} attempts ended"


def _store(ctx: click.Context) -> tuple[Target, RunStore]:
    from shared.cloud import wiring

    target = load_target(ctx.find_object(str))
    return target, wiring.run_store(target.settings)


_env_file = click.option(
    "--env-file", default=DEFAULT_ENV_FILE, envvar="FLEXRUN_ENV_FILE", show_default=True, help=ENV_FILE_HELP
)


@click.group()
@_env_file
@click.pass_context
def runs(ctx: click.Context, env_file: str) -> None:
    """Recorded runs: list, show one, compare two, reconcile the open ones."""
    ctx.obj = env_file


@runs.command("list")
@click.option("--limit", default=20, show_default=True, help="How many runs, newest first.")
@click.pass_context
def list_runs(ctx: click.Context, limit: int) -> None:
    """The latest runs, newest first: GPU, state, wait, duration, cost, model vs naive."""
    click.echo(runs_list(_store(ctx)[1], limit))


@runs.command()
@click.argument("run_key")
@click.option("--attempt", default=1, show_default=True, help="Which attempt of the run.")
@click.option("--json", "as_json", is_flag=True, help="Every field and prediction as one JSON document.")
@click.pass_context
def show(ctx: click.Context, run_key: str, attempt: int, as_json: bool) -> None:
    """One run in sections: run, hardware, timeline, cost, metrics, predictions, links."""
    click.echo(runs_show(_store(ctx)[1], run_key, attempt, as_json))


@runs.command()
@click.argument("first")
@click.argument("second")
@click.pass_context
def compare(ctx: click.Context, first: str, second: str) -> None:
    """Two runs side by side (their latest attempts)."""
    click.echo(runs_compare(_store(ctx)[1], first, second))


@runs.command()
@click.option("--older-than", default=15.0, show_default=True, help="Minutes a run has been open.")
@click.pass_context
def reconcile(ctx: click.Context, older_than: float) -> None:
    """Read the jobs of runs still open and bring their records up to date."""
    from shared.cloud import wiring
    from shared.runs.reconcile import reconcile_open_runs

    target, store = _store(ctx)
    settings = target.settings
    report = reconcile_open_runs(
        settings=settings,
        store=store,
        jobs_for_region=wiring.jobs_for_region(settings),
        storage=wiring.storage(settings),
        notifier=wiring.notifier(settings),
        publisher=wiring.run_requests_publisher(settings),
        older_than=timedelta(minutes=older_than),
    )
    text = f"checked {report.checked}, advanced {len(report.advanced)}, failed {len(report.failed)}"
    snapshot = wiring.refresh_quota_snapshot(settings)  # what the scheduled tick does after it
    click.echo(text + f"; quota snapshot {'refreshed' if snapshot else 'not refreshed (see the log)'}")


@click.command()
@click.option("--month", required=True, type=click.DateTime(formats=["%Y-%m"]), help="YYYY-MM (UTC).")
@_env_file
@click.pass_context
def cost(ctx: click.Context, month: datetime, env_file: str) -> None:
    """Estimated GPU cost of the attempts that ended in a month, per GPU type."""
    ctx.obj = env_file
    click.echo(cost_for_month(_store(ctx)[1], month))
