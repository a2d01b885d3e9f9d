"""`python -m local up | down [--wipe] | restart NAME | status | demo`: the local cloud from the command line.

`up` leaves a supervising process behind (local/services/daemon.py): it restarts whatever dies, on its
port with its environment, serves `restart NAME`, and on `down` stops everything keeping the data
(MongoDB, the local Supabase, undelivered Pub/Sub messages) unless `--wipe`.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from local.services.cloud import REPO_ROOT, SERVICES
from local.services.cloud_state import down, recorded_state
from local.services.daemon import REQUESTS_DIR, WIPE_REQUEST, wipe
from local.services.processes import log_tail, process_start_time
from shared.polling import PollTimeout, poll

DEFAULT_STATE_DIR = REPO_ROOT / ".local-cloud"


def _alive(entry: dict[str, object]) -> bool:
    pid = int(str(entry["pid"]))
    recorded = entry.get("start_time")
    current = process_start_time(pid)
    if current is not None:
        return recorded is None or current == recorded
    try:
        os.kill(pid, 0)  # not Linux: existence only
        return True
    except OSError:
        return False


def up(state_dir: Path, services: list[str] | None, function_sources: dict[str, str]) -> int:
    state = recorded_state(state_dir)
    if state and any(_alive(entry) for entry in state["processes"]):
        print(f"a local cloud is already running from {state_dir}; `python -m local down` first", file=sys.stderr)
        return 1
    down(state_dir)  # clear a stale record (processes already gone)
    started = time.monotonic()
    daemon = _start_daemon(state_dir, services, function_sources)

    def ready() -> dict[str, Any] | None:
        if daemon.poll() is not None:
            raise PollTimeout(f"exited with status {daemon.returncode}")
        state = recorded_state(state_dir)
        mine = state and state.get("ready") and (state.get("daemon") or {}).get("pid") == daemon.pid
        return state if mine else None

    try:
        state = poll(ready, timeout=900, what="the local cloud", interval=0.2)
    except PollTimeout as error:
        print(f"local cloud failed to start ({error}):\n{log_tail(_daemon_log(state_dir), 40)}", file=sys.stderr)
        if daemon.poll() is None:
            daemon.terminate()
        return 1
    # The supervising process and its services are in their own session: they outlive this command.
    print(
        f"local cloud up in {time.monotonic() - started:.1f} s (state in {state_dir}), supervised by pid {daemon.pid}"
    )
    for name, endpoint in state["endpoints"].items():
        print(f"  {name:<28} {endpoint}")
    where = "" if state_dir == DEFAULT_STATE_DIR else f" --state-dir {_shown(state_dir)}"
    print(
        f"\nuse it from a shell:  source {_shown(state_dir / 'env')}\nstop it:              python -m local{where} down"
    )
    return 0


def _daemon_log(state_dir: Path) -> Path:
    return state_dir / "logs" / "local-cloud.log"


def _start_daemon(
    state_dir: Path, services: list[str] | None, function_sources: dict[str, str]
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "local.services.daemon", "--state-dir", str(state_dir)]
    if services:
        argv += ["--services", *services]
    argv += [f"--function-source={name}={path}" for name, path in function_sources.items()]
    _daemon_log(state_dir).parent.mkdir(parents=True, exist_ok=True)
    with _daemon_log(state_dir).open("ab") as log:
        return subprocess.Popen(
            argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )


def _daemon(state_dir: Path) -> dict[str, Any] | None:
    """The record of the supervising process of the cloud in `state_dir`, if it still runs."""
    entry = (recorded_state(state_dir) or {}).get("daemon")
    return entry if entry and _alive(entry) else None


def stop(state_dir: Path, wiping: bool) -> int:
    daemon = _daemon(state_dir)
    if daemon is None:  # its supervisor is gone: stop what it recorded, by PID
        stopped = down(state_dir)
        if wiping:
            wipe(state_dir)
        print(f"stopped: {', '.join(stopped)}" if stopped else "local cloud: nothing was running")
        return 0
    names = [str(entry["name"]) for entry in (recorded_state(state_dir) or {}).get("processes", [])]
    if wiping:
        (state_dir / WIPE_REQUEST).write_text("down --wipe\n")
    os.kill(int(daemon["pid"]), signal.SIGTERM)
    try:  # until the process itself is gone: it removes the state file before it wipes
        poll(lambda: not _alive(daemon), timeout=300, what="the local cloud to stop", interval=0.2)
    except PollTimeout as error:
        print(f"local cloud: {error}; see {_daemon_log(state_dir)}", file=sys.stderr)
        return 1
    kept = "data wiped" if wiping else "data kept for the next `up` (`down --wipe` forgets it)"
    print(f"stopped: {', '.join(names)}; {kept}")
    return 0


def restart(state_dir: Path, name: str) -> int:
    if _daemon(state_dir) is None:
        print("local cloud: not running (or not supervised); `python -m local up` first", file=sys.stderr)
        return 1
    request = state_dir / REQUESTS_DIR / name
    answer = request.with_name(f"{name}.done")
    answer.unlink(missing_ok=True)
    request.write_text("restart\n")
    try:
        text = str(poll(lambda: answer.exists() and answer.read_text(), timeout=300, what=f"{name} to restart"))
    except PollTimeout as error:
        print(f"local cloud: {error}", file=sys.stderr)
        return 1
    answer.unlink(missing_ok=True)
    print(text.strip())
    return 0 if text.startswith("ok") else 1


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def status(state_dir: Path) -> int:
    state = recorded_state(state_dir)
    if not state:
        print("local cloud: not running")
        return 1
    if daemon := state.get("daemon"):
        print(
            f"  {'supervisor':<28} pid {daemon['pid']:<8} {'running' if _alive(daemon) else 'GONE (nothing restarts)'}"
        )
    running = 0
    for entry in state["processes"]:
        alive = _alive(entry)
        running += alive
        print(f"  {entry['name']:<28} pid {entry['pid']:<8} {'running' if alive else 'GONE'}")
    for name, endpoint in state["endpoints"].items():
        print(f"  {name:<28} {endpoint}")
    return 0 if running == len(state["processes"]) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description="The flexrun local cloud.")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="default: .local-cloud/")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start every service and leave it running")
    start.add_argument("--services", nargs="+", choices=SERVICES, help="a subset (default: all)")
    start.add_argument(
        "--function-source", action="append", default=[], metavar="NAME=PATH",
        help="serve another source file as function NAME (e.g. submit-run=my/experiment.py)",
    )  # fmt: skip
    stopping = commands.add_parser("down", help="stop every process `up` started; the data stays")
    stopping.add_argument("--wipe", action="store_true", help="forget the data too (MongoDB, Supabase, messages)")
    restarting = commands.add_parser("restart", help="restart one service on its port with its environment")
    restarting.add_argument("name", help="a service (pubsub, mongo, ...) or a function (submit-run, ...)")
    commands.add_parser("status", help="which recorded processes still run")
    commands.add_parser("demo", help="run the whole chain once (local/demo/demo.py)")
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    if args.command == "up":
        sources = dict(item.split("=", 1) for item in args.function_source)
        return up(state_dir, args.services, sources)
    if args.command == "down":
        return stop(state_dir, args.wipe)
    if args.command == "restart":
        return restart(state_dir, args.name)
    if args.command == "status":
        return status(state_dir)
    from local.demo import demo  # lazily: the demo imports the client libraries

    result = demo.main()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
