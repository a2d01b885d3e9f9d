"""Vertex AI API errors sorted into retry-me and never-retry.

Vertex answers through shared/cloud/http.JsonApi (shared/jobs/vertex_rest.py), so its refusals are
that module's `ApiError`s: `retryable` is Google's retry guidance (408, 429, 5xx). Nothing
here imports google.api_core: it loads grpc (+56 ms of a cold start) and no Vertex call raises it.

Whether a refusal is a capacity failure (quota, stockout) is the failure classifier's call:
shared/runs/failures.refusal.
"""

from __future__ import annotations

import http.client

from shared.cloud.http import ApiError
from shared.errors import PermanentError, TransientError


def classify(exc: Exception, action: str) -> Exception:
    """The flexrun error to raise for a Vertex AI call's exception from `action`."""
    if isinstance(exc, ApiError):
        if exc.retryable:
            return TransientError(f"{action}: Vertex AI answered {exc.code}: {exc.message}")
        return PermanentError(f"{action}: Vertex AI refused: {exc.message}", reason_code="vertex_refused")
    # Connection refused / reset / timed out before any HTTP answer, or an answer cut short.
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return TransientError(f"{action}: Vertex AI unreachable: {exc.__class__.__name__}")
    return exc
