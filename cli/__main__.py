"""Entry point: `python -m cli package ...`."""

from __future__ import annotations

import click

from cli.doctor import doctor
from cli.package import package
from cli.report import report
from cli.run import jobs, run, schedule
from cli.runs import cost, runs


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def main() -> None:
    """flexrun: event-driven GPU training on Google Cloud."""


main.add_command(package)
main.add_command(run)
main.add_command(schedule)
main.add_command(jobs)
main.add_command(doctor)
main.add_command(runs)
main.add_command(cost)
main.add_command(report)

if __name__ == "__main__":
    main()
