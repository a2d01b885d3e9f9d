"""`flexrun package check FILE...`: validate-package's static checks on local files, offline.

The same code as the function (`shared.packages.safety.examine_package`), with the limits and deny
list the settings give (their defaults when the environment sets none) and the trainer image's pins, so
a package this command accepts is one the upload accepts too (the version order aside: that needs the
manifest).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from shared.config.settings import Settings
from shared.packages.pins import ImagePins, default_pins, load_pins
from shared.packages.safety import Inspection, examine_package
from shared.packages.validate_package import limits_for


def offline_settings() -> Settings:
    """Settings without a cloud: the environment's values where set, the defaults elsewhere."""
    return Settings(gcp_project_id="offline-check")  # type: ignore[call-arg]  # the rest: environment or defaults


def check_file(path: Path, *, module: str, settings: Settings, pins: ImagePins) -> Inspection:
    with path.open("rb") as handle:
        return examine_package(
            handle, entry_module=module, limits=limits_for(settings), size=path.stat().st_size, pins=pins
        )


def verdict(path: Path, inspection: Inspection) -> dict[str, Any]:
    info = inspection.info
    return {
        "file": str(path),
        "verdict": "accepted" if info else "rejected",
        "reasons": [{"code": code, "message": message} for code, message in inspection.reasons],
        "name": info.name if info else None,
        "version": info.version if info else None,
        "entry_module": info.entry_module if info else None,
        "requirements": list(info.requirements) if info else [],
        "sha256": inspection.sha256,
        "size": inspection.compressed_bytes,
    }


def one_line(result: dict[str, Any]) -> str:
    if result["verdict"] == "accepted":
        detail = f"{result['name']} {result['version']}, entry module {result['entry_module']}"
    else:
        detail = ", ".join(dict.fromkeys(r["code"] for r in result["reasons"]))
    return f"{result['file']}: {result['verdict']} ({detail})"


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--module",
    default=None,
    help="Entry module when a package declares none ([tool.flexrun] entry-module); default FLEXRUN_TRAINER_MODULE.",
)
@click.option(
    "--pins",
    "pins_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="pip `name==version` lines the image ships (default: image/requirements.lock, see the README).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document: every file's verdict and reasons.")
def check(files: tuple[Path, ...], module: str | None, pins_file: Path | None, as_json: bool) -> None:
    """Would each FILE (an sdist) be accepted on upload? Exit 0 if all would be, else 1. No cloud needed.

    One line per file on stdout (`FILE: accepted|rejected (reason codes)`); each reason's message on
    stderr.
    """
    settings = offline_settings()
    pins = load_pins(pins_file) if pins_file else default_pins()
    results = []
    for path in files:
        result = verdict(
            path, check_file(path, module=module or settings.flexrun_trainer_module, settings=settings, pins=pins)
        )
        results.append(result)
        if not as_json:
            click.echo(one_line(result))
            for reason in result["reasons"]:
                click.echo(f"  {reason['code']}: {reason['message']}", err=True)
    if as_json:
        click.echo(json.dumps({"pins": pins.source, "files": results}, indent=2))
    else:
        click.echo(f"checked against {len(pins.versions)} image pins from {pins.source}", err=True)
    raise SystemExit(0 if all(r["verdict"] == "accepted" for r in results) else 1)
