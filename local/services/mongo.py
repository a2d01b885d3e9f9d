"""MongoDB: nx-27017, a MongoDB wire-protocol server on SQLite, reached with pymongo unchanged."""

from __future__ import annotations

import sys
from pathlib import Path

from local.services.processes import ManagedProcess, free_port, tcp_probe


def start_mongo(state_dir: Path, database: str = "flexrun", in_memory: bool = False) -> tuple[ManagedProcess, str]:
    """Start nx-27017 on a free port; returns the process and its MONGODB_URL."""
    port = free_port()
    data = state_dir / "mongo"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        str(Path(sys.executable).parent / "nx-27017"),
        "--db", "memory" if in_memory else str(data / "mongo.db"),
        "--host", "127.0.0.1",
        "-p", str(port),
        # Per-instance files: the defaults are shared under /tmp and a second server refuses to start.
        "--log-file", str(data / "nx-27017.log"),
        "--pid-file", str(data / "nx-27017.pid"),
    ]  # fmt: skip
    process = ManagedProcess(name="mongo", argv=argv, state_dir=state_dir)
    process.start(tcp_probe(port), timeout=30)
    return process, f"mongodb://127.0.0.1:{port}/{database}"
