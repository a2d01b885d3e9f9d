"""The one polling helper: ask until the answer is there or the time is up.

Everything that waits on something converging — a claim taken by another delivery (submit-run), a
package verdict or a run's end (the CLI), a job state, a service's readiness or a record (the local
cloud, the demo, the tests) — calls `poll`. It probes at least once, never sleeps past its deadline,
and can back off (Eventarc-style delivery retries). Hand-written because it is ten lines; tenacity
and its like wrap a call that raises, not a probe that answers "not yet".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class PollTimeout(TimeoutError):
    """What was awaited did not happen in time; the message says what and how long."""


def poll(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str = "a condition",
    interval: float = 0.05,
    max_interval: float | None = None,
    error: Callable[[str], Exception] = PollTimeout,
) -> T:
    """The first truthy value `probe()` returns; `error(message)` is raised once `timeout` seconds pass.

    With `max_interval`, the pause doubles after each "not yet" up to that bound.
    """
    deadline = time.monotonic() + timeout
    pause = interval
    while True:
        result = probe()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise error(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(min(pause, remaining))
        if max_interval is not None:
            pause = min(pause * 2, max_interval)
