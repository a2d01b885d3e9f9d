"""Managed child processes of the local cloud: start, wait until ready, stop by PID.

Every service runs in its own session (process group), so one signal to the group also reaches
the children it spawns (the Pub/Sub emulator's shell script starts a JVM; gunicorn forks workers).
A process is always ended by its own PID — never by name — so two local clouds, or a developer's
unrelated processes, are never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.polling import PollTimeout, poll

Probe = Callable[[], bool]


class ProcessStartError(RuntimeError):
    """A service did not become ready: names it and shows the end of its log."""


def free_port() -> int:
    """A loopback port nobody listens on now (bind to port 0), so parallel runs never collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tcp_probe(port: int, host: str = "127.0.0.1") -> Probe:
    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return probe


def http_probe(url: str, ok: Sequence[int] = (200,)) -> Probe:
    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                return int(response.status) in ok
        except urllib.error.HTTPError as error:
            return error.code in ok
        except (OSError, ValueError):
            return False

    return probe


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class ManagedProcess:
    """One service process, its log file and PID file inside the state directory."""

    name: str
    argv: list[str]
    state_dir: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    stop_grace: float = 10.0  # seconds between SIGTERM and SIGKILL
    ready_seconds: float | None = None  # how long the last start took, for the state file and reports
    # The last start's readiness probe, so `restart()` brings the same command back the same way.
    ready_probe: Probe | None = field(default=None, repr=False)
    ready_timeout: float = 30.0

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "pids" / f"{self.name}.pid"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def start(self, ready: Probe, timeout: float = 30.0) -> ManagedProcess:
        """Start the process and block until `ready()` is true; raise ProcessStartError otherwise."""
        self.ready_probe, self.ready_timeout = ready, timeout
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ if self.env is None else self.env)
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=env,
                start_new_session=True,  # its own process group: one killpg reaches its children
            )
        self.pid_path.write_text(f"{self.popen.pid}\n")
        started = time.monotonic()
        popen = self.popen

        def up() -> bool:
            if ready():
                return True
            if popen.poll() is not None:
                raise PollTimeout(f"exited with status {popen.returncode}")
            return False

        try:
            poll(up, timeout=timeout, what="readiness")
        except PollTimeout as why:
            self.stop()
            text = why if popen.returncode is not None else f"not ready in {timeout:g} s"
            raise ProcessStartError(
                f"{self.name} {text}; last lines of {self.log_path}:\n{log_tail(self.log_path)}"
            ) from None
        self.ready_seconds = round(time.monotonic() - started, 3)
        return self

    def exited(self) -> bool:
        """Started, and its leader has ended since (crashed or killed), without `stop()` being called."""
        return self.popen is not None and self.popen.poll() is not None

    def restart(self) -> ManagedProcess:
        """Stop (if running) and start the same command line again: same port, same data files."""
        if self.ready_probe is None:
            raise ProcessStartError(f"{self.name} was never started, so there is nothing to restart")
        self.stop()
        return self.start(self.ready_probe, self.ready_timeout)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after `stop_grace` seconds; safe to call twice."""
        if self.popen is not None:
            stop_group(self.popen.pid, self.stop_grace, child=self.popen)
            self.popen = None
        self.pid_path.unlink(missing_ok=True)


def start_python_standin(
    name: str, config_flag: str, config: Any, state_dir: Path, python: str, repo_root: Path
) -> ManagedProcess:
    """Start `python -m local.standins.NAME` with its dataclass config as a JSON file; ready once it
    writes its ready file (the Eventarc bridge and the Cloud Scheduler stand-in start this way)."""
    import json
    from dataclasses import asdict

    config_file = state_dir / f"{name}-{config_flag}.json"
    config_file.write_text(json.dumps(asdict(config), indent=2))
    ready_file = state_dir / f"{name}.ready"
    ready_file.unlink(missing_ok=True)
    argv = [
        python,
        "-m",
        f"local.standins.{name}",
        f"--{config_flag}",
        str(config_file),
        "--ready-file",
        str(ready_file),
    ]
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    process = ManagedProcess(name=name, argv=argv, state_dir=state_dir, env=env, cwd=repo_root)
    return process.start(ready_file.exists, timeout=30)


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux), so a recorded PID is not confused with a reused one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _group_alive(pgid: int) -> bool:
    """Whether any non-zombie process is left in the group (zombies await a reaper; they are gone)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel, zombies included
        try:
            os.killpg(pgid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(pid: int, grace: float = 10.0, child: subprocess.Popen[bytes] | None = None) -> None:
    """End the process group led by `pid` (started with start_new_session, so pgid == pid)."""

    def gone() -> bool:
        if child is not None:
            child.poll()  # reap our own child so it does not linger as a zombie
        return not _group_alive(pid)

    _signal_group(pid, signal.SIGTERM)
    try:
        poll(gone, timeout=grace, what=f"process group {pid} to end")
    except PollTimeout:
        _signal_group(pid, signal.SIGKILL)
    if child is not None:
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(PollTimeout):  # SIGKILL is not instant
        poll(gone, timeout=5, what=f"process group {pid} to be killed")


def stop_recorded(pid: int, start_time: str | None, grace: float = 10.0) -> bool:
    """Stop a process another `python -m local` started; False if it is gone (or the PID was reused)."""
    if start_time is not None and process_start_time(pid) not in (start_time, None):
        return False  # the PID now belongs to an unrelated process: leave it alone
    try:
        if os.getpgid(pid) != pid:
            return False  # not a session leader we started
    except ProcessLookupError:
        # The leader is gone; members left in its group are still ours (the kernel never reuses
        # a PID while a group of that id exists).
        if not _group_alive(pid):
            return False
    stop_group(pid, grace)
    return True
