"""One JSON line per decision on stderr, the shape Cloud Logging parses from a container."""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from typing import Any

_lock = threading.Lock()  # lines from many job threads must not interleave


def log(severity: str, message: str, **fields: Any) -> None:
    record = {
        "severity": severity,
        "message": message,
        "component": "local-vertex",
        "time": datetime.now(UTC).isoformat(),
        **fields,
    }
    line = json.dumps(record, default=str)
    with _lock:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
