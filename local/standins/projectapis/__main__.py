"""CLI: `python -m local.standins.projectapis --port P [--state FILE]` (FILE: the initial state, JSON)."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from types import FrameType

from local.standins.projectapis.server import ProjectApisServer
from local.standins.projectapis.state import ProjectState
from shared.config import logs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.standins.projectapis", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, help="initial state (see local/standins/projectapis/state.py)")
    args = parser.parse_args(argv)
    state = ProjectState(json.loads(args.state.read_text()) if args.state else None)
    server = ProjectApisServer((args.host, args.port), state)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()  # shutdown() waits for serve_forever

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logs.setup(component="projectapis")
    logs.info("project APIs stand-in listening", port=args.port)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
