"""Vertex AI API errors sorted into retry-me and never-retry.

Whether a refusal is a capacity failure (quota, stockout) is the failure classifier's call:
shared/runs/failures.refusal.
"""

from __future__ import annotations

from shared.errors import PermanentError, TransientError


def classify(exc: Exception, action: str) -> Exception:
    """The flexrun error to raise for a google.api_core exception from `action`."""
    from google.api_core import exceptions as gexc

    retryable = (
        gexc.ServiceUnavailable,
        gexc.TooManyRequests,
        gexc.InternalServerError,
        gexc.DeadlineExceeded,
        gexc.BadGateway,
        gexc.GatewayTimeout,
    )
    if isinstance(exc, retryable):
        return TransientError(f"{action}: Vertex AI answered {exc.code}: {exc.message}")
    if isinstance(exc, gexc.GoogleAPICallError):
        return PermanentError(f"{action}: Vertex AI refused: {exc.message}", reason_code="vertex_refused")
    if isinstance(exc, OSError):  # connection refused / reset before any HTTP answer
        return TransientError(f"{action}: Vertex AI unreachable: {exc.__class__.__name__}")
    return exc
