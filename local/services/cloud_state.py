"""What a running local cloud records about itself in its state directory (`cloud.json`, `env`), so that
another process (`python -m local down`/`status`, the CLI, the demo) can find its endpoints and stop it
by the PIDs it recorded."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from local.services.processes import ManagedProcess, process_start_time, stop_recorded

STATE_FILE = "cloud.json"
ENV_FILE = "env"  # `export NAME=value` lines: what a client of the local cloud sources


def write(
    state_dir: Path,
    *,
    env: Mapping[str, str],
    ready: bool,
    daemon: Mapping[str, Any] | None,
    endpoints: Mapping[str, str],
    function_envs: Mapping[str, Mapping[str, str]],
    tiers: Sequence[Sequence[ManagedProcess]],
) -> None:
    exports = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in sorted(env.items()))
    _write_atomically(state_dir / ENV_FILE, exports)
    state = {
        "state_dir": str(state_dir),
        "written_at": time.time(),
        "ready": ready,
        "daemon": dict(daemon) if daemon else None,
        "endpoints": dict(endpoints),
        "env": dict(env),
        # Names only: a test's override may hold a secret, and this file is read by anyone.
        "function_variables": {name: sorted(variables) for name, variables in function_envs.items()},
        "processes": [
            {
                "name": p.name,
                "tier": tier,
                "pid": p.pid,
                "start_time": process_start_time(p.pid),
                "ready_seconds": p.ready_seconds,
                "stop_grace": p.stop_grace,
                "log": str(p.log_path),
            }
            for tier, members in enumerate(tiers)
            for p in members
            if p.pid is not None
        ],
    }
    _write_atomically(state_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")


def forget(state_dir: Path | str) -> None:
    """Remove the records of a stopped cloud: a stale env file would point clients at dead ports."""
    for name in (STATE_FILE, ENV_FILE):
        (Path(state_dir) / name).unlink(missing_ok=True)


def recorded_state(state_dir: Path | str) -> dict[str, Any] | None:
    path = Path(state_dir) / STATE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def down(state_dir: Path | str) -> list[str]:
    """Stop a cloud another process started, by the PIDs it recorded, when its supervising process is
    gone (`python -m local down` asks that process first: local/__main__.py). The data stays."""
    state = recorded_state(state_dir)
    if state is None:
        return []
    stopped: list[str] = []
    entries = state.get("processes", [])
    for tier in sorted({entry.get("tier", 0) for entry in entries}, reverse=True):
        members = [entry for entry in entries if entry.get("tier", 0) == tier]
        with ThreadPoolExecutor(max_workers=len(members)) as pool:
            done = pool.map(_stop_entry, members)
            stopped += [entry["name"] for entry, ok in zip(members, list(done), strict=True) if ok]
    forget(state_dir)
    return stopped


def _stop_entry(entry: dict[str, Any]) -> bool:
    return stop_recorded(int(entry["pid"]), entry.get("start_time"), float(entry.get("stop_grace", 10.0)))


def _write_atomically(path: Path, text: str) -> None:
    """Readers (`python -m local up` polls cloud.json while the cloud starts) never see half a file."""
    partial_path = path.with_name(f".{path.name}.partial")
    partial_path.write_text(text)
    partial_path.replace(path)
