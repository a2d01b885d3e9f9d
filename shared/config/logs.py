"""Structured logs as Cloud Logging reads them: one JSON object per line with `severity` and `message`.

Every line carries the correlation id and run_key of the event being handled (bound with
`log_context`), so one Logging filter shows a run's whole chain across the three functions.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import sys
import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

# Immutable default: the context is replaced, never mutated, so one shared empty mapping is safe.
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("flexrun_log_context", default=_EMPTY)

# Field names whose values must never reach a log line, whatever a caller passes. Matched on the
# end of the name so that `run_key` or `sha256` stay readable while `supabase_key` does not.
_SECRET_SUFFIXES = (
    "secret",
    "token",
    "password",
    "api_key",
    "supabase_key",
    "webhook_url",
    "mongodb_url",
    "credentials",
    "authorization",
    "private_key",
)


def _is_secret_field(name: str) -> bool:
    return name.lower().endswith(_SECRET_SUFFIXES)


def _redact(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {key: ("[redacted]" if _is_secret_field(key) and value else value) for key, value in fields.items()}


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind fields (correlation_id, run_key, function, ...) to every line logged inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the enclosing `log_context` block (e.g. the run_key once it is known).

    Outside any block (a core called from a test or the CLI) this does nothing: a binding must never
    outlive the event it describes and label every later line of the process.
    """
    if _context.get() is _EMPTY:
        return
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def log(severity: str, message: str, **fields: Any) -> None:
    entry: dict[str, Any] = {
        "severity": severity,
        "message": message,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z",
    }
    entry.update(_redact(_context.get()))
    entry.update(_redact(fields))
    sys.stderr.write(json.dumps(entry, default=str, sort_keys=False) + "\n")
    sys.stderr.flush()


def debug(message: str, **fields: Any) -> None:
    log("DEBUG", message, **fields)


def info(message: str, **fields: Any) -> None:
    log("INFO", message, **fields)


def notice(message: str, **fields: Any) -> None:
    log("NOTICE", message, **fields)


def warning(message: str, **fields: Any) -> None:
    log("WARNING", message, **fields)


def error(message: str, **fields: Any) -> None:
    log("ERROR", message, **fields)
