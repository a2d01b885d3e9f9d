"""`python -m build --sdist` of a source tree, as the deploy build runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click


def build_sdist(source: Path, outdir: Path) -> Path:
    """Build SOURCE's sdist into OUTDIR (no isolation: the build backend is ours, not downloaded)."""
    outdir.mkdir(parents=True, exist_ok=True)
    before = set(outdir.glob("*.tar.gz"))
    command = [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(outdir), str(source)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise click.ClickException(f"build failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    built = sorted(set(outdir.glob("*.tar.gz")) - before) or sorted(
        outdir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime
    )
    return built[-1]
