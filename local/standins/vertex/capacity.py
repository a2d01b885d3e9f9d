"""Dynamic Workload Scheduler, simulated: a count of free slots per accelerator type.

A slot is one concurrently running job of that GPU type, whatever its `acceleratorCount`:
the local machine has no GPUs, so what matters to flexrun is only whether a job of a type can
start now or must wait. Types not named on the command line have `default` slots. Jobs with
no accelerator (CPU-only) never wait.
"""

from __future__ import annotations

import threading
import time


class CapacityPool:
    def __init__(self, slots: dict[str, int], default: int = 1) -> None:
        self._limit = dict(slots)
        self._default = default
        self._used: dict[str, int] = {}
        self._changed = threading.Condition()

    def free(self, accelerator: str) -> int:
        with self._changed:
            return self._free(accelerator)

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._changed:
            names = set(self._limit) | set(self._used)
            return {
                n: {"limit": self._limit.get(n, self._default), "used": self._used.get(n, 0)} for n in sorted(names)
            }

    def set_limits(self, slots: dict[str, int]) -> None:
        """Admin: change how many jobs of a type may run; waiting jobs re-check at once."""
        with self._changed:
            self._limit.update(slots)
            self._changed.notify_all()

    def try_acquire(self, accelerator: str) -> bool:
        with self._changed:
            return self._take(accelerator)

    def acquire(self, accelerator: str, deadline: float | None, stop: threading.Event) -> bool:
        """Wait for a slot until `deadline` (monotonic seconds; None = forever) or until `stop`."""
        with self._changed:
            while not stop.is_set():
                if self._take(accelerator):
                    return True
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                # Bounded wait so a set `stop` is noticed even if nobody notifies.
                self._changed.wait(timeout=0.2 if remaining is None else min(remaining, 0.2))
            return False

    def release(self, accelerator: str) -> None:
        with self._changed:
            self._used[accelerator] = max(0, self._used.get(accelerator, 0) - 1)
            self._changed.notify_all()

    def _free(self, accelerator: str) -> int:
        return self._limit.get(accelerator, self._default) - self._used.get(accelerator, 0)

    def _take(self, accelerator: str) -> bool:
        if self._free(accelerator) <= 0:
            return False
        self._used[accelerator] = self._used.get(accelerator, 0) + 1
        return True
