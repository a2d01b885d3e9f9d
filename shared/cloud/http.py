"""JSON over HTTPS to Google's REST APIs (Cloud Storage, Vertex AI) on the standard library's http.client.

Why hand-written, not the SDKs' transports: a function instance's first event pays for every import
on its path, and the goal is a cold start within 2x of a hello-world function. Measured on a 2-core
machine over functions-framework alone: google-cloud-storage +185 ms, requests +50 ms, httpx +35 ms,
google.api_core.exceptions +56 ms (it imports grpc); http.client, ssl and json are already loaded by
werkzeug, so this module costs nothing. Credentials stay google-auth's (ADC, imported only for an
https endpoint), except on Cloud Run / Cloud Functions without a credentials file, where the token comes
straight from the metadata server (metadata_token: google.auth's import is another ~75 ms).

Errors follow Google's JSON error body (https://cloud.google.com/apis/design/errors#http_mapping):
`{"error": {"code": 404, "message": "...", "status": "NOT_FOUND", "errors": [{"reason": "notFound"}]}}`.
Each HTTP status becomes one `ApiError` subclass, so callers catch `NotFound`, `PreconditionFailed`
and so on by type, and `retryable` says what the trigger should redeliver.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from shared.cloud import metadata_token
from shared.cloud.connections import Response
from shared.cloud.connections import connect as _connect
from shared.cloud.connections import send as _send
from shared.cloud.connections import target as _target

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
TIMEOUT_SECONDS = 30.0
USER_AGENT = "flexrun"


class ApiError(Exception):
    """A Google API answered an error status: `code` the HTTP status, `status` Google's canonical name."""

    http_status: ClassVar[int] = 0
    # 408, 429 and 5xx: the same request may succeed later (Google's retry guidance for its REST APIs:
    # https://cloud.google.com/storage/docs/retry-strategy#retryable).
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: str = "",
        reason: str = "",
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.code = http_status or type(self).http_status  # a status without its own subclass keeps its number
        self.retry_after = retry_after  # seconds, from a Retry-After header (429, 503); None when absent

    def __str__(self) -> str:
        return f"{self.code} {self.message}"


class BadRequest(ApiError):
    http_status = 400


class Unauthorized(ApiError):
    http_status = 401


class Forbidden(ApiError):
    http_status = 403


class NotFound(ApiError):
    http_status = 404


class RequestTimeout(ApiError):
    http_status, retryable = 408, True


class Conflict(ApiError):
    http_status = 409


class PreconditionFailed(ApiError):
    http_status = 412


class TooManyRequests(ApiError):
    http_status, retryable = 429, True


class ServerError(ApiError):
    """Any 5xx (500, 502, 503, 504): Google's side failed or was overloaded."""

    http_status, retryable = 500, True


# What a caller turns into "redeliver the event": the statuses whose class says `retryable`.
RETRYABLE: tuple[type[ApiError], ...] = (RequestTimeout, TooManyRequests, ServerError)
# ... or no answer at all: refused, reset or timed out (OSError), also while a streamed body is read.
TRANSIENT: tuple[type[Exception], ...] = (*RETRYABLE, OSError)

_BY_STATUS: dict[int, type[ApiError]] = {
    cls.http_status: cls
    for cls in (
        BadRequest, Unauthorized, Forbidden, NotFound, RequestTimeout, Conflict, PreconditionFailed, TooManyRequests
    )
}  # fmt: skip


def error_from_response(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> ApiError:
    """The ApiError for an error answer, its message from Google's error body when it has one."""
    message, canonical, reason = "", "", ""
    try:
        error = json.loads(body or b"{}").get("error", {})
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            canonical = str(error.get("status") or "")
            details = error.get("errors") or []
            if details and isinstance(details[0], dict):
                reason = str(details[0].get("reason") or "")
        elif isinstance(error, str):
            message = error
    except (ValueError, AttributeError):
        message = body[:200].decode("utf-8", "replace")
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return cls(
        message or http.client.responses.get(status, "error"),
        status=canonical,
        reason=reason,
        http_status=status,
        retry_after=_retry_after(headers or {}),
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After as seconds (RFC 9110 10.2.3), as Slack sends it (https://api.slack.com/docs/rate-limits);
    the header's HTTP-date form is not parsed and reads as None."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class _AuthTransport:
    """google-auth's transport interface (google.auth.transport.Request) over http.client, for token refresh."""

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> Any:
        response = _send(method, url, body, dict(headers or {}), timeout or TIMEOUT_SECONDS)
        return _AuthResponse(response)


@dataclass(frozen=True)
class _AuthResponse:
    response: Response

    @property
    def status(self) -> int:
        return self.response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers

    @property
    def data(self) -> bytes:
        return self.response.body


class Credentials:
    """Authorization headers for one client: none for a local `http://` stand-in, the metadata server's
    token on Google's serverless runtime (`metadata_token.applies`), else ADC's token."""

    def __init__(self, anonymous: bool, scopes: tuple[str, ...] = (CLOUD_PLATFORM,)) -> None:
        self._anonymous, self._scopes = anonymous, scopes
        self._credentials: Any = None
        self._lock = threading.Lock()

    def apply(self, method: str, url: str, headers: dict[str, str]) -> None:
        if self._anonymous:
            return
        if metadata_token.applies():
            headers["Authorization"] = f"Bearer {metadata_token.token(self._scopes)}"
            return
        with self._lock:
            if self._credentials is None:
                import google.auth  # imported on first use: only a real endpoint needs it

                self._credentials, _ = google.auth.default(scopes=list(self._scopes))
            # Refreshes the token when it is missing or about to expire, then sets Authorization.
            self._credentials.before_request(_AuthTransport(), method, url, headers)


class JsonApi:
    """One API's base URL, e.g. `https://storage.googleapis.com` or a local `http://127.0.0.1:PORT`."""

    def __init__(self, base_url: str, *, anonymous: bool | None = None, timeout: float = TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.credentials = Credentials(self.base_url.startswith("http://") if anonymous is None else anonymous)

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """The answer to one request; an ApiError for a status >= 400, OSError when nothing answered."""
        url = self.url(path, params)
        sent = {"User-Agent": USER_AGENT, **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        self.credentials.apply(method, url, sent)
        response = _send(method, url, body, sent, self.timeout)
        if response.status >= 400:
            raise error_from_response(response.status, response.body, response.headers)
        return response

    @contextmanager
    def stream(self, path: str, *, params: Mapping[str, Any] | None = None) -> Iterator[http.client.HTTPResponse]:
        """A GET whose body is read as a file (`read(n)`), for objects too large to hold in memory.

        It has a connection of its own: a half-read stream must not block the thread's pooled one."""
        url = self.url(path, params)
        headers = {"User-Agent": USER_AGENT}
        self.credentials.apply("GET", url, headers)
        parts = urllib.parse.urlsplit(url)
        connection = _connect(parts, self.timeout)
        try:
            connection.request("GET", _target(parts), headers=headers)
            response = connection.getresponse()
            if response.status >= 400:
                raise error_from_response(response.status, response.read(), dict(response.getheaders()))
            yield response
        finally:
            connection.close()
