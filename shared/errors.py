"""What can go wrong, split by what the trigger should do about it.

A handler raises a `TransientError` (or anything unexpected) so Eventarc redelivers the event; it
acknowledges a `PermanentError` after logging and recording it, because retrying cannot fix it.
"""

from __future__ import annotations


class FlexrunError(Exception):
    """Base of every error flexrun raises on purpose."""


class ConfigurationError(FlexrunError):
    """The process's environment is missing or has a bad setting; names the variable."""


class TransientError(FlexrunError):
    """Worth retrying: a service was down, slow, or a precondition raced with another writer."""


class PermanentError(FlexrunError):
    """Retrying the same event can never succeed; acknowledge it and record why."""

    reason_code: str = "permanent"

    def __init__(self, message: str, *, reason_code: str | None = None) -> None:
        super().__init__(message)
        if reason_code is not None:
            self.reason_code = reason_code


class InvalidEvent(PermanentError):
    """The CloudEvent or its payload is not what this function accepts."""

    reason_code = "invalid_event"


class InvalidRunRequest(PermanentError):
    """A run message that fails its schema (unknown field, bad value, wrong GPU pair, ...)."""

    reason_code = "invalid_run_request"


class NoDeployableVersion(PermanentError):
    """No validated (or pinned) package version exists to run."""

    reason_code = "no_deployable_version"


class PackageRejected(PermanentError):
    """A trainer package failed static validation; carries every reason found."""

    reason_code = "package_rejected"

    def __init__(self, reasons: list[tuple[str, str]]) -> None:
        self.reasons = reasons
        summary = "; ".join(f"{code}: {message}" for code, message in reasons)
        super().__init__(f"package rejected: {summary}")


class InvalidRecord(PermanentError):
    """A store holds a run record that is not a valid schema-1 record (docs/run-record.md)."""

    reason_code = "invalid_record"
