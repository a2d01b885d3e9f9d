"""`python -m local up | down | status | demo`: the local cloud from the command line."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from local.services.cloud import REPO_ROOT, SERVICES, LocalCloud, down, recorded_state
from local.services.processes import ProcessStartError, process_start_time

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
    try:
        cloud = LocalCloud(state_dir, services=services, function_sources=function_sources).start()
    except (ProcessStartError, RuntimeError) as error:
        print(f"local cloud failed to start: {error}", file=sys.stderr)
        return 1
    # Leave the processes running: each is in its own session, so they outlive this command.
    print(f"local cloud up in {time.monotonic() - started:.1f} s (state in {state_dir})")
    for name, endpoint in cloud.endpoints.items():
        print(f"  {name:<28} {endpoint}")
    where = "" if state_dir == DEFAULT_STATE_DIR else f" --state-dir {_shown(state_dir)}"
    print(
        f"\nuse it from a shell:  source {_shown(state_dir / 'env')}\nstop it:              python -m local{where} down"
    )
    return 0


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
    commands.add_parser("down", help="stop every process `up` started, by its PID")
    commands.add_parser("status", help="which recorded processes still run")
    commands.add_parser("demo", help="run the whole chain once (local/demo/demo.py)")
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    if args.command == "up":
        sources = dict(item.split("=", 1) for item in args.function_source)
        return up(state_dir, args.services, sources)
    if args.command == "down":
        stopped = down(state_dir)
        print(f"stopped: {', '.join(stopped)}" if stopped else "local cloud: nothing was running")
        return 0
    if args.command == "status":
        return status(state_dir)
    from local.demo import demo  # lazily: the demo imports the client libraries

    result = demo.main()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
