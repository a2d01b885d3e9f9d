"""Vertex AI API errors sorted into retry-me and never-retry."""

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


def capacity_refusal(exc: Exception) -> str | None:
    """The capacity reason when Vertex refused a create for quota or stock; None for any other error.

    A 429 that names quota ("The following quota metrics exceed quota limits") is not a rate limit to
    retry: the same request fails again until quota is granted, so the run moves to its next step.
    """
    from google.api_core import exceptions as gexc

    if not isinstance(exc, gexc.GoogleAPICallError):
        return None
    text = str(exc.message or "").lower()
    if "quota" in text and isinstance(exc, (gexc.TooManyRequests, gexc.ResourceExhausted, gexc.BadRequest)):
        return "quota_exceeded"
    if "resources are insufficient" in text or "resource_pool_exhausted" in text or "stockout" in text:
        return "stockout"
    return None
