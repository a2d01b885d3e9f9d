"""The GPU catalog (gpu_catalog.json beside this file): machines per GPU, DWS support, images, dated prices.

Everything Vertex would refuse about a GPU request (unknown type, a machine type that cannot carry it,
a GPU count the machine does not have, FLEX_START on a GPU DWS does not serve) is refused here, before
any API call, with the valid choices named.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from shared.errors import InvalidRunRequest

_CATALOG_PATH = Path(__file__).with_name("gpu_catalog.json")
# Short names people type in a run message or a fallback chain → the aiplatform_v1 AcceleratorType name.
GPU_ALIASES = {
    "T4": "NVIDIA_TESLA_T4",
    "L4": "NVIDIA_L4",
    "A100": "NVIDIA_TESLA_A100",
    "A100_80GB": "NVIDIA_A100_80GB",
    "H100": "NVIDIA_H100_80GB",
    "H100_MEGA": "NVIDIA_H100_MEGA_80GB",
    "H200": "NVIDIA_H200_141GB",
    "NVIDIA_H200": "NVIDIA_H200_141GB",
    "B200": "NVIDIA_B200",
}


@functools.lru_cache(maxsize=1)
def load_catalog() -> dict[str, Any]:
    return json.loads(_CATALOG_PATH.read_text())


def canonical_gpu(gpu_type: str) -> str:
    return GPU_ALIASES.get(gpu_type.upper(), gpu_type.upper())


def gpu_entry(gpu_type: str) -> dict[str, Any]:
    gpus = load_catalog()["gpus"]
    entry = gpus.get(canonical_gpu(gpu_type))
    if entry is None:
        raise InvalidRunRequest(f"GPU type {gpu_type!r} is not in the catalog ({', '.join(sorted(gpus))})")
    return entry


def check_gpu_machine(gpu_type: str, machine_type: str, gpu_count: int | None = None) -> None:
    """Refuse a GPU/machine/count combination Vertex would refuse, before any API call."""
    machines = gpu_entry(gpu_type)["machines"]
    if machine_type not in machines:
        raise InvalidRunRequest(
            f"machine type {machine_type!r} cannot carry {gpu_type}; use one of {', '.join(machines)}"
        )
    if gpu_count is not None and gpu_count not in machines[machine_type]:
        counts = ", ".join(str(c) for c in machines[machine_type])
        raise InvalidRunRequest(f"{machine_type} carries {counts} × {gpu_type}, not {gpu_count}")


def check_strategy(gpu_type: str, strategy: str) -> None:
    if strategy == "FLEX_START" and not gpu_entry(gpu_type)["dws"]:
        served = ", ".join(name for name, e in load_catalog()["gpus"].items() if e["dws"])
        raise InvalidRunRequest(f"DWS flex-start does not serve {gpu_type}; it serves {served}")


def region_offers(gpu_type: str, region: str) -> bool | None:
    """Whether Vertex offers this GPU for training in the region; None when the catalog cannot tell.

    The catalog's region table covers `region_coverage` only (see its sources): outside it, or for a GPU
    whose regions are unknown, nothing is judged rather than refusing a region that may well work.
    """
    regions = gpu_entry(gpu_type).get("regions")
    if regions is None or region not in load_catalog().get("region_coverage", []):
        return None
    return region in regions


def check_region(gpu_type: str, region: str) -> None:
    """Refuse a GPU in a region that does not offer it: Vertex refuses that job as a permanent error."""
    if region_offers(gpu_type, region) is False:
        offered = ", ".join(gpu_entry(gpu_type)["regions"])
        raise InvalidRunRequest(
            f"{region} does not offer {canonical_gpu(gpu_type)} for Vertex AI training; regions that do: {offered}"
        )


def default_machine(gpu_type: str, gpu_count: int) -> str:
    """The first (smallest) machine type in the catalog that carries `gpu_count` of this GPU."""
    for machine, counts in gpu_entry(gpu_type)["machines"].items():
        if gpu_count in counts:
            return machine
    raise InvalidRunRequest(f"no machine type carries {gpu_count} × {gpu_type}")


def hourly_price(gpu_type: str, strategy: str = "STANDARD") -> float | None:
    """USD per GPU hour for the strategy (FLEX_START and SPOT: the DWS price), None when unknown."""
    entry = load_catalog()["gpus"].get(canonical_gpu(gpu_type))
    if entry is None:
        return None
    if strategy in ("FLEX_START", "SPOT"):
        return entry.get("dws_usd_per_gpu_hour")
    return entry.get("usd_per_gpu_hour")


def attempt_price_per_hour(gpu_type: str, machine_type: str, gpu_count: int, strategy: str) -> float | None:
    """USD per hour of one attempt's machine with `gpu_count` GPUs under `strategy`; None when unknown.

    The one price a run's cost is computed from (shared/runs/cost.py). A machine type's own price for the
    strategy wins (Vertex bills by machine type; DWS and Spot have their own SKUs, google-facts.md).
    Without one, STANDARD falls back to the on-demand GPU price × count; SPOT and FLEX_START do not: an
    on-demand price is not a DWS or Spot price, so their cost stays unknown.
    """
    entry = load_catalog()["gpus"].get(canonical_gpu(gpu_type))
    if entry is None:
        return None
    own = (entry.get("prices", {}).get(machine_type) or {}).get(strategy)
    if own is not None:
        return float(own)
    if strategy in ("STANDARD", "ON_DEMAND") and entry.get("usd_per_gpu_hour") is not None:
        return float(entry["usd_per_gpu_hour"]) * gpu_count
    return None
