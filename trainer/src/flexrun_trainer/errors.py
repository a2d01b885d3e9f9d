"""Failures the trainer expects, each carrying the process exit code Vertex will report.

Exit codes are a contract with the job-state function: 0 ok, 1 unexpected (a bug), 2 bad arguments or
configuration (retrying will not help), 3 a data problem (fix the data, then retry).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_CONFIG = 2
EXIT_DATA = 3


class TrainerError(Exception):
    """Base of the failures the trainer reports with a meaningful exit code."""

    exit_code = EXIT_UNEXPECTED


class ConfigError(TrainerError):
    """Arguments or environment are wrong (missing output dir, bad MONGODB_URL, ...)."""

    exit_code = EXIT_CONFIG


class DataError(TrainerError):
    """The input data is missing, unreadable, malformed or too short for the requested windows."""

    exit_code = EXIT_DATA
