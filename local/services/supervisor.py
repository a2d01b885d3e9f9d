"""Restart crashed function processes on their own port, as Cloud Run starts a new instance.

A deployed function whose instance dies mid-event is served again by a fresh instance at the same URL,
and Eventarc redelivers the event. Locally one functions-framework process is the only instance, so
this watchdog brings it back with the same command line (same port) when it exits unasked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from local.services.processes import ManagedProcess, ProcessStartError

POLL_SECONDS = 0.2


class Supervisor:
    def __init__(self, watched: Callable[[], Iterable[ManagedProcess]], log: Callable[[str], None] = print) -> None:
        self._watched = watched
        self._log = log
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.lock = threading.Lock()  # held around deliberate stops and starts, so they are not "crashes"
        self.restarts: dict[str, int] = {}

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="local-cloud-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            with self.lock:
                for process in self._watched():
                    if self._stopping.is_set() or not process.exited():
                        continue
                    self.restarts[process.name] = self.restarts.get(process.name, 0) + 1
                    self._log(f"{process.name} exited; restarting it on the same port")
                    try:
                        process.restart()
                    except ProcessStartError as error:  # tried again on the next poll
                        self._log(f"restarting {process.name} failed: {error}")
