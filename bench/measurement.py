"""One benchmark figure: what was measured, against which baseline, and the goal it must meet."""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Measurement:
    name: str
    value: float
    baseline_name: str
    baseline: float
    unit: str
    # The goal is on the ratio value/baseline: "<= 2.0" (lower is better) or ">= 0.5".
    goal: str | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def met(self) -> bool | None:
        if not self.goal:
            return None
        operator, limit = self.goal.split()
        return self.ratio <= float(limit) if operator == "<=" else self.ratio >= float(limit)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 3), "met": self.met}


def best_of(repeat: int, action: Callable[[], float]) -> float:
    """The smallest of `repeat` timings: the least disturbed by the other work on a shared machine."""
    return min(action() for _ in range(repeat))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def child_peak_rss_mib(command: Sequence[str], **kwargs: Any) -> tuple[float, float]:
    """Run a command; (wall seconds, its peak RSS in MiB) measured with wait4's rusage."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"{command[0]} exited with status {status}")
    return elapsed, usage.ru_maxrss / 1024.0


def own_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
