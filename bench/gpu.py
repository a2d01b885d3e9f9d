"""Trainer throughput on this machine's devices: `flexrun_trainer.benchmark` in the trainer's venv.

One row always: steps/s of the trainer's model at its default batch on the first device (CPU here).
Where TensorFlow sees a GPU: mixed precision against float32 (goal: mixed precision at least as fast),
XLA "auto" against none, and all GPUs (MirroredStrategy, global batch scaled) against one (goal: more
samples/s). Without a GPU those rows are skipped, and the note says so.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from bench.measurement import Measurement
from bench.trainer import TRAINER_PYTHON


def probe() -> dict[str, Any]:
    if not TRAINER_PYTHON.exists():
        raise RuntimeError("the trainer venv is missing: `make bench` installs it")
    out = subprocess.run(
        [str(TRAINER_PYTHON), "-m", "flexrun_trainer.benchmark"], check=True, capture_output=True, text=True
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def rows(result: dict[str, Any]) -> list[Measurement]:
    by_key = {(r["device"], r["policy"], str(r["xla"])): r for r in result["rows"]}
    base = result["rows"][0]
    half, quadruple = result.get("batch_rows") or [base, base]
    found = [
        Measurement(
            f"trainer samples/s, batch {base['global_batch']} vs {half['global_batch']} ({base['device']})",
            base["samples_per_second"],
            f"batch {half['global_batch']}",
            half["samples_per_second"],
            "/s",
            goal=">= 1.0",
            note=f"{base['steps_per_second']:.1f} steps/s at the default batch, float32; "
            f"batch {quadruple['global_batch']}: {quadruple['samples_per_second']:.0f} samples/s",
        )
    ]
    if result.get("gpu_skipped"):
        found[0] = Measurement(
            **{**found[0].__dict__, "note": found[0].note + f"; GPU rows skipped: {result['gpu_skipped']}"}
        )
        return found
    f32 = by_key[("/gpu:0", "float32", "False")]
    mixed = by_key[("/gpu:0", "mixed_float16", "False")]
    xla = by_key[("/gpu:0", "mixed_float16", "auto")]
    found += [
        Measurement("GPU steps/s mixed_float16 vs float32", mixed["steps_per_second"], "float32",
                    f32["steps_per_second"], "/s", goal=">= 1.0"),
        Measurement("GPU steps/s XLA auto vs none (mixed)", xla["steps_per_second"], "no XLA",
                    mixed["steps_per_second"], "/s", goal=">= 1.0"),
    ]  # fmt: skip
    everything = [r for r in result["rows"] if r["device"].startswith("all ")]
    if everything:
        found.append(
            Measurement(f"GPU samples/s {everything[0]['device']} vs one", everything[0]["samples_per_second"],
                        "one GPU", mixed["samples_per_second"], "/s", goal=">= 1.0")
        )  # fmt: skip
    return found


def run() -> list[Measurement]:
    return rows(probe())
