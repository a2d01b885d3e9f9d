"""`outcome.json`: why the run ended and its last error line, readable by job-state without logs.

Vertex reports only "The replica workerpool0-0 exited with a non-zero status of 3"; the reason a
person needs (which row of which file was bad) is in the trainer's log, which job-state does not read.
So the trainer writes this small file into its output directory on every exit it controls: on success
it is one of the published files (listed in `_SUCCESS`), on failure it is written alone, best effort
(a failure to write it must never hide the original error). Documented in trainer/README.md.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime, timezone
from typing import Any

from flexrun_trainer import __version__
from flexrun_trainer.errors import EXIT_CONFIG, EXIT_DATA, EXIT_OK, EXIT_UNEXPECTED

OUTCOME = "outcome.json"
OUTCOME_SCHEMA_VERSION = 1
REASONS = {EXIT_OK: "ok", EXIT_CONFIG: "config_error", EXIT_DATA: "data_error", EXIT_UNEXPECTED: "unexpected"}
_MAX_ERROR_CHARS = 500
# user:password@ in a URL (a MongoDB URL in an error message) never reaches a file.
_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def redact(text: str) -> str:
    return _CREDENTIALS.sub(r"\1***@", text)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return redact(lines[-1] if lines else "")[:_MAX_ERROR_CHARS]


def document(exit_code: int, error: BaseException | str | None = None, reason: str | None = None) -> dict[str, Any]:
    if isinstance(error, BaseException):
        error_type: str | None = type(error).__name__
        message: str | None = last_line(str(error)) or error_type
    else:
        error_type, message = None, (last_line(error) if error else None)
    return {
        "schema_version": OUTCOME_SCHEMA_VERSION,
        "status": "succeeded" if exit_code == EXIT_OK else "failed",
        "exit_code": exit_code,
        "reason": reason or REASONS.get(exit_code, "unexpected"),
        "error_type": error_type,
        "error": message,
        "package_version": __version__,
        "finished_at": datetime.now(timezone.utc).isoformat(),
    }


def write_failure(output_dir: str, doc: dict[str, Any]) -> bool:
    """Write outcome.json alone into output_dir (local or gs://); False if it could not be written."""
    data = (json.dumps(doc, indent=2) + "\n").encode()
    try:
        if output_dir.startswith("gs://"):
            from flexrun_trainer import gcs

            gcs.upload_bytes(data, output_dir.rstrip("/") + "/" + OUTCOME)
        else:
            os.makedirs(output_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".outcome-", dir=output_dir)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, os.path.join(output_dir, OUTCOME))
    except Exception:  # never let the report of a failure replace the failure
        return False
    return True
