"""Restart any local-cloud process that dies, on its own port with its own environment.

A deployed function whose instance dies mid-event is served again by a fresh instance at the same URL,
and Eventarc redelivers the event; Google's managed services do not stay down either. Locally each
service is one process, so this watchdog brings a dead one back with the same command line (same port,
same environment, same data files), logs it, and backs off when the start itself fails, so a process
that cannot start is not hammered. It also serves `python -m local restart NAME` requests: a file
`requests/NAME` in the state directory, answered in `requests/NAME.done`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from local.services.processes import ManagedProcess, ProcessStartError
from shared.config import logs

POLL_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 30.0


def _restart(process: ManagedProcess) -> None:
    process.restart()


class Supervisor:
    def __init__(
        self,
        watched: Callable[[], Iterable[ManagedProcess]],
        revive: Callable[[ManagedProcess], None] | None = None,
        requests_dir: Path | None = None,
    ) -> None:
        self._watched = watched
        self._revive = revive or _restart
        self._requests = requests_dir
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Held around deliberate stops and starts, so they are not "crashes"; reentrant because a
        # revive may go through LocalCloud.start_service, which takes it too.
        self.lock = threading.RLock()
        self.restarts: dict[str, int] = {}
        self._failed: dict[str, tuple[int, float]] = {}  # name → (failed starts in a row, next try)

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="local-cloud-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            with self.lock:
                for process in list(self._watched()):
                    if self._stopping.is_set():
                        return
                    self._check(process)
            self._serve_requests()

    def _check(self, process: ManagedProcess) -> None:
        failed, next_try = self._failed.get(process.name, (0, 0.0))
        if not (process.exited() or failed) or time.monotonic() < next_try:
            return
        status = process.popen.returncode if process.popen is not None else None
        self.restarts[process.name] = self.restarts.get(process.name, 0) + 1
        logs.warning(
            "service died; restarting it on its port with its environment",
            service=process.name,
            exit_status=status,
            restarts=self.restarts[process.name],
        )
        try:
            self._revive(process)
        except ProcessStartError as error:
            backoff = min(MAX_BACKOFF_SECONDS, 0.5 * 2**failed)
            self._failed[process.name] = (failed + 1, time.monotonic() + backoff)
            logs.error(
                "restart failed; trying again", service=process.name, retry_in_s=backoff, error=str(error)[-500:]
            )
            return
        self._failed.pop(process.name, None)
        logs.notice("service restarted", service=process.name, pid=process.pid)

    def _serve_requests(self) -> None:
        if self._requests is None or not self._requests.is_dir():
            return
        for request in sorted(self._requests.glob("*")):
            if request.suffix == ".done":
                continue
            name = request.name
            answer = request.with_name(f"{name}.done")
            with self.lock:
                process = next((p for p in self._watched() if p.name in (name, f"function-{name}")), None)
                if process is None:
                    answer.write_text(f"error: no service named {name}\n")
                else:
                    try:
                        self._revive(process)
                        self._failed.pop(process.name, None)
                        logs.notice("service restarted on request", service=process.name, pid=process.pid)
                        answer.write_text(f"ok: {process.name} pid {process.pid}\n")
                    except ProcessStartError as error:
                        answer.write_text(f"error: {error}\n")
            request.unlink(missing_ok=True)
