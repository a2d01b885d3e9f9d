"""Entry point: `python -m cli package ...`."""

from __future__ import annotations

import click

from cli.package import package


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def main() -> None:
    """flexrun: event-driven GPU training on Google Cloud."""


main.add_command(package)

if __name__ == "__main__":
    main()
