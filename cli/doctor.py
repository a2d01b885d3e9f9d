"""`flexrun doctor`: can tonight's runs happen at all? Every step of the chain, the APIs, the resources and
each deployed identity's permissions, one ✓ / ✗ line each, every ✗ with the command that fixes it.

It finds its target as `flexrun package` does (`.local-cloud/env` when the local cloud is up, else the
environment). Exit status 1 when something keeps runs from ever working (a step that can never run
included); `--json` for scripts.
"""

from __future__ import annotations

import os
import sys

import click

from cli.schedule import load_schedule
from cli.target import DEFAULT_ENV_FILE, load_target


@click.command()
@click.option(
    "--env-file",
    default=DEFAULT_ENV_FILE,
    show_default=True,
    help="The local cloud's settings; '' = use the environment only.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.option("--functions-account", default="flexrun-functions", show_default=True, help="_FUNCTIONS_SA.")
@click.option("--invoker-account", default="flexrun-invoker", show_default=True, help="_INVOKER_SA.")
def doctor(env_file: str, as_json: bool, functions_account: str, invoker_account: str) -> None:
    """Check that each fallback step can ever run, and that the project is set up for flexrun."""
    from cli.doctor_google import GoogleProbes
    from deploy import doctor_needs
    from shared.doctor import report
    from shared.doctor.checks import run_checks
    from shared.errors import FlexrunError
    from shared.runs.plan import resolve_steps
    from shared.runs.request import RunRequest

    target = load_target(env_file)
    settings = target.settings
    schedule = load_schedule()
    steps, chain_error, replicas = [], None, 1
    try:
        request = RunRequest.model_validate(schedule.message)
        replicas = request.replicas
        steps = resolve_steps(request, settings)
    except (FlexrunError, ValueError) as exc:  # e.g. a step in a region that lacks its GPU: a ✗ line
        chain_error = str(exc)
    deployment = doctor_needs.deployment(
        settings,
        local=os.environ.get("FLEXRUN_LOCAL") == "1",
        functions_account=functions_account,
        invoker_account=invoker_account,
    )
    result = run_checks(target.description, deployment, steps, GoogleProbes(settings), chain_error, replicas)
    click.echo(report.as_json(result) if as_json else report.as_text(result), nl=not as_json)
    sys.exit(0 if result.ok else 1)
