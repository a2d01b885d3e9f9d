"""The one logger: stdlib `logging`, one JSON object per line as Cloud Logging reads it from a process.

Each line has Cloud Logging's `severity` (DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL) and
`message`, then the fields bound to the event being handled (`log_context`/`bind`, held in a
contextvar so concurrent events never mix), then the line's own fields. The functions, the CLI's
cores and every local stand-in log through it (`setup(component=...)` in a stand-in's main).

Secrets: a field whose name says secret is written as "[redacted]", and every registered secret value
(`register_secret`: the settings register theirs when read) is cut out of the whole line, tracebacks
and client exceptions included — a malformed webhook URL quoted in an http.client or ValueError text
never reaches a log.

Hand-written, not python-json-logger: the part that matters here (Cloud Logging's severity names,
contextvar binding, scrubbing) is what that library leaves to a subclass anyway.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, TextIO

NOTICE = 25  # Cloud Logging's NOTICE sits between INFO and WARNING
logging.addLevelName(NOTICE, "NOTICE")

# Immutable default: the context is replaced, never mutated, so one shared empty mapping is safe.
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("flexrun_log_context", default=_EMPTY)
_component: dict[str, str] = {}

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
REDACTED = "[redacted]"
_secrets: tuple[str, ...] = ()  # longest first; replaced whole, so a reader never sees it change
_secrets_lock = threading.Lock()
# logging.LogRecord's own attributes: everything else on a record came from `extra` and is a field.
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def register_secret(value: str | None, *parts: str) -> None:
    """Cut `value` out of every line logged from now on, and the `parts` of it a client may quote alone
    (a database URL's password, a webhook URL's path)."""
    global _secrets
    kept = {part for part in (value, *parts) if part and len(part) >= 6}  # shorter would mangle words
    with _secrets_lock:
        _secrets = tuple(sorted(set(_secrets) | kept, key=len, reverse=True))


def scrub(text: str) -> str:
    """`text` with every registered secret value replaced by [redacted]."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _is_secret_field(name: str) -> bool:
    return name.lower().endswith(_SECRET_SUFFIXES)


def _redact(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (REDACTED if _is_secret_field(key) and value else value) for key, value in fields.items()}


class JsonFormatter(logging.Formatter):
    """A LogRecord → one Cloud Logging JSON line (severity, message, time, bound context, fields)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
        }
        entry.update(_component)
        if record.name not in ("flexrun", "root"):
            entry["logger"] = record.name
        entry.update(_redact(_context.get()))
        extra = {key: value for key, value in record.__dict__.items() if key not in _RECORD_ATTRS}
        entry.update(_redact(extra.pop("fields", None) or {}))
        entry.update(_redact(extra))
        if record.exc_info:
            # Error Reporting reads a stack trace from the line's `stack_trace` field.
            entry["stack_trace"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, default=str))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (pytest's capture, a redirected stream), not at import."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns one; stderr is read live
        pass


_logger = logging.getLogger("flexrun")
_logger.setLevel(logging.DEBUG)
_logger.propagate = False  # its own JSON handler; a root handler would print each line twice
if not _logger.handlers:
    _logger.addHandler(_StderrHandler())


def setup(component: str | None = None, level: int = logging.INFO) -> None:
    """A process's entry point: JSON for every logger (libraries' too), labelled with `component`."""
    if component:
        _component["component"] = component
    root = logging.getLogger()
    if not any(isinstance(handler, _StderrHandler) for handler in root.handlers):
        root.addHandler(_StderrHandler())
    root.setLevel(level)


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


def log(severity: str, message: str, *, exc_info: bool = False, **fields: Any) -> None:
    """One line at a Cloud Logging severity name."""
    level = logging.getLevelName(severity.upper())
    _logger.log(level if isinstance(level, int) else logging.INFO, message, exc_info=exc_info, extra={"fields": fields})


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
