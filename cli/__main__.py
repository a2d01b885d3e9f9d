"""Entry point: `python -m cli package ...`."""

from __future__ import annotations

import sys

import click

from cli.doctor import doctor
from cli.package import package
from cli.run import jobs, run, schedule


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def main() -> None:
    """flexrun: event-driven GPU training on Google Cloud."""


main.add_command(package)
main.add_command(run)
main.add_command(schedule)
main.add_command(jobs)
main.add_command(doctor)

_PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


@main.command(context_settings=_PASSTHROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def runs(args: tuple[str, ...]) -> None:
    """Recorded runs: list, show RUN_KEY, compare A B, reconcile (`flexrun runs --help`)."""
    from cli import runs as runs_cli  # argparse inside: its own --help and errors

    sys.exit(runs_cli.main(["runs", *args]))


@main.command(context_settings=_PASSTHROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def cost(args: tuple[str, ...]) -> None:
    """GPU cost of the recorded runs: `flexrun cost --month 2026-11`."""
    from cli import runs as runs_cli

    sys.exit(runs_cli.main(["cost", *args]))


if __name__ == "__main__":
    main()
