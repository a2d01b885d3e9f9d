"""The trainer's verdicts over several seeds: how much of a reported gain is the seed's luck.

Runs the default configuration (`python -m flexrun_trainer.task`, the trainer venv) once per seed and
reports, pooled over symbols, the mean and spread of the model's gain over each value baseline (MSE,
as in metrics.json) and of its direction accuracy over the majority direction, with how many seeds
earned a significant "edge". trainer/README.md's results table comes from this run:
`.venv/bin/python -m bench trainer_seeds` (FLEXRUN_SEEDS=42,1,2 to change the seeds, FLEXRUN_TRAINER_ARGS
for extra trainer flags: the README's single-model rows used "--ensemble 1", its ensemble rows "--ensemble 3").
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.measurement import Measurement
from bench.trainer import TRAINER_PYTHON

SEEDS = (42, 1, 2, 3, 4)
BASELINES = ("naive_last_value", "drift", "moving_average", "majority_direction")


def _evaluation(seed: int, extra: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-seed-{seed}-") as out:
        command = [str(TRAINER_PYTHON), "-m", "flexrun_trainer.task", "--output-dir", out, "--seed", str(seed)]
        subprocess.run([*command, *extra], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return dict(json.loads((Path(out) / "metrics.json").read_text())["evaluation"])


def run() -> list[Measurement]:
    if not TRAINER_PYTHON.exists():
        raise RuntimeError("the trainer venv is missing: `make bench` installs it")
    seeds = [int(s) for s in os.environ.get("FLEXRUN_SEEDS", ",".join(map(str, SEEDS))).split(",")]
    extra = os.environ.get("FLEXRUN_TRAINER_ARGS", "").split()
    runs = [_evaluation(seed, extra) for seed in seeds]
    rows = []
    for name in BASELINES:
        tests = [r["overall"]["tests"][name] for r in runs]
        gains = [100 * t["gain"] for t in tests]
        unit = "pt" if name == "majority_direction" else "%"
        per_seed = ", ".join(
            f"{s}: {g:+.2f} (p={t['p_value']:.3f})" for s, g, t in zip(seeds, gains, tests, strict=True)
        )
        rows.append(
            Measurement(
                f"gain vs {name} over {len(seeds)} seeds (mean)",
                statistics.mean(gains),
                "sd across seeds",
                statistics.stdev(gains) if len(gains) > 1 else 0.0,
                unit,
                note=f"edge in {sum(t['edge'] for t in tests)}/{len(seeds)} seeds; {per_seed}",
            )
        )
    return rows
