"""`make bench` on a fresh clone installs every environment the benchmarks run in before it runs them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_bench_builds_the_function_executor_and_trainer_venvs_before_benchmarking():
    # -B: every target is out of date, as on a fresh clone; -n: print the recipes, run nothing.
    recipes = subprocess.run(
        ["make", "-n", "-B", "bench"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    bench = next(i for i, line in enumerate(recipes) if line.endswith("-m bench"))
    before = "\n".join(recipes[:bench])
    assert "-r requirements-dev.txt" in before
    assert "-r local/executor-image.txt" in before  # bench/startup.py runs image/launcher.py on it
    assert "-e 'trainer[test]'" in before  # bench/trainer.py and bench/gpu.py run the trainer in it
