"""The GPU catalog (gpu_catalog.json beside this file): machine types per GPU, dated prices, DWS support."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from shared.errors import InvalidRunRequest

_CATALOG_PATH = Path(__file__).with_name("gpu_catalog.json")
GPU_ALIASES = {"NVIDIA_H200": "NVIDIA_H200_141GB"}


@functools.lru_cache(maxsize=1)
def load_catalog() -> dict[str, Any]:
    return json.loads(_CATALOG_PATH.read_text())


def canonical_gpu(gpu_type: str) -> str:
    return GPU_ALIASES.get(gpu_type, gpu_type)


def check_gpu_machine(gpu_type: str, machine_type: str) -> None:
    """Refuse a GPU/machine pair Vertex would refuse, before any API call."""
    gpus = load_catalog()["gpus"]
    entry = gpus.get(canonical_gpu(gpu_type))
    if entry is None:
        raise InvalidRunRequest(f"GPU type {gpu_type!r} is not in the catalog ({', '.join(sorted(gpus))})")
    if machine_type not in entry["machine_types"]:
        raise InvalidRunRequest(
            f"machine type {machine_type!r} cannot carry {gpu_type}; use one of {', '.join(entry['machine_types'])}"
        )


def estimated_cost_usd(gpu_type: str, gpu_count: int, run_seconds: float | None) -> float | None:
    """GPU cost of the run time at the catalog's hourly price; None when either is unknown."""
    entry = load_catalog()["gpus"].get(canonical_gpu(gpu_type))
    if run_seconds is None or entry is None or entry.get("usd_per_gpu_hour") is None:
        return None
    return round(entry["usd_per_gpu_hour"] * gpu_count * run_seconds / 3600.0, 4)
