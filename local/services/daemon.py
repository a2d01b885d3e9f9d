"""The process `python -m local up` leaves behind: it owns the local cloud's processes and supervises them.

Every service is this process's child, so it sees a death at once and serves the service again on its
port with its environment (local/services/supervisor.py), as Google's managed services come back. It
answers `python -m local restart NAME` (a request file) and, on SIGTERM from `python -m local down`,
stops the cloud keeping its data (MongoDB, the local Supabase, undelivered Pub/Sub messages) unless
`down --wipe` asked for a clean slate. Its own log is `logs/local-cloud.log` in the state directory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from local.services.cloud import LocalCloud
from local.services.processes import process_start_time
from shared.config import logs

WIPE_REQUEST = "wipe-requested"
REQUESTS_DIR = "requests"


def wipe(state_dir: Path) -> None:
    """Forget every service's data: what `down --wipe` removes after the processes stopped."""
    from local.services import postgres, pubsub

    postgres.remove_data(state_dir)
    (state_dir / pubsub.BACKLOG_FILE).unlink(missing_ok=True)
    for kept in ("gcs", "mongo", "vertex"):
        shutil.rmtree(state_dir / kept, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--services", nargs="*")
    parser.add_argument("--function-source", action="append", default=[], metavar="NAME=PATH")
    args = parser.parse_args(argv)
    logs.setup(component="local-cloud")
    state_dir: Path = args.state_dir.resolve()
    (state_dir / REQUESTS_DIR).mkdir(parents=True, exist_ok=True)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    cloud = LocalCloud(
        state_dir,
        services=args.services or None,
        function_sources=dict(item.split("=", 1) for item in args.function_source),
        requests_dir=state_dir / REQUESTS_DIR,
        daemon={"pid": os.getpid(), "start_time": process_start_time(os.getpid())},
    )
    try:
        cloud.start()
    except Exception as error:  # noqa: BLE001 — `up` shows this log's tail and exits 1
        logs.error("local cloud failed to start", error=str(error)[-3000:])
        return 1
    logs.notice("local cloud up; supervising", services=[p.name for p in cloud.processes])
    stopping.wait()
    wiping = (state_dir / WIPE_REQUEST).exists()
    logs.notice("stopping the local cloud", wipe=wiping)
    cloud.stop(wipe=wiping)
    if wiping:
        wipe(state_dir)
        (state_dir / WIPE_REQUEST).unlink(missing_ok=True)
    logs.notice("local cloud stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
