"""Errors in Google's JSON error shape, so each client raises the matching exception class.

Over REST a client picks the exception class from the HTTP status alone: 400 becomes `BadRequest`
(google.api_core's parent of `InvalidArgument` and `FailedPrecondition`; shared.cloud.http's one
class), 404 `NotFound`, 429 `TooManyRequests`, 503 `ServiceUnavailable` (shared.cloud.http's
`ServerError`). The canonical status name is in the body, which both read into `.message` and, for
shared.cloud.http, `.status` (https://cloud.google.com/apis/design/errors#http_mapping).
"""

from __future__ import annotations

from typing import Any

# google.rpc.Code name -> (numeric code, HTTP status), from google/rpc/code.proto.
RPC_CODES: dict[str, tuple[int, int]] = {
    "CANCELLED": (1, 499),
    "INVALID_ARGUMENT": (3, 400),
    "DEADLINE_EXCEEDED": (4, 504),
    "NOT_FOUND": (5, 404),
    "ALREADY_EXISTS": (6, 409),
    "RESOURCE_EXHAUSTED": (8, 429),
    "FAILED_PRECONDITION": (9, 400),
    "UNIMPLEMENTED": (12, 501),
    "INTERNAL": (13, 500),
    "UNAVAILABLE": (14, 503),
}
HTTP_TO_STATUS = {http: name for name, (_, http) in RPC_CODES.items() if name != "FAILED_PRECONDITION"}


class ApiError(Exception):
    """An API call answered with an error; `status` is the google.rpc.Code name."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def http_status(self) -> int:
        return RPC_CODES[self.status][1]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.http_status, "message": self.message, "status": self.status}}


def from_http_status(http_status: int, message: str) -> ApiError:
    """For injected faults: `{"status": 503}` becomes UNAVAILABLE, 429 RESOURCE_EXHAUSTED."""
    return ApiError(HTTP_TO_STATUS.get(http_status, "INTERNAL"), message)
