"""The connections under shared/cloud/http.py: one keep-alive http.client connection per thread and host.

http.client is not thread-safe and functions-framework serves events on threads, so each thread keeps
its own pool; a kept-alive connection the server has meanwhile closed is replaced and the request sent
once more. Hand-written for the reason http.py gives (the SDK transports' import cost on a cold start).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}


_local = threading.local()  # one keep-alive connection per (thread, host): http.client is not thread-safe
# A reused keep-alive connection the server has closed fails on first use: send once more, on a new one.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, http.client.CannotSendRequest)


def send(method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float) -> Response:
    parts = urllib.parse.urlsplit(url)
    key = (parts.scheme, parts.netloc)
    pool: dict[tuple[str, str], http.client.HTTPConnection] = _local.__dict__.setdefault("pool", {})
    for attempt in (1, 2):
        connection = pool.get(key)
        reused = connection is not None
        if connection is None:
            connection = pool[key] = connect(parts, timeout)
        try:
            connection.request(method, target(parts), body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        except _STALE:
            connection.close()
            pool.pop(key, None)
            if reused and attempt == 1:
                continue
            raise
        except BaseException:
            connection.close()
            pool.pop(key, None)
            raise
        if answer.will_close:
            connection.close()
            pool.pop(key, None)
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
    raise AssertionError("unreachable")  # the loop returns or raises


class _NoDelay:
    """TCP_NODELAY, as urllib3 (requests' and google-auth's transport) sets on every socket: http.client
    may write a request's headers and body separately, and Nagle would hold the body for the peer's ACK."""

    sock: socket.socket

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _HTTPConnection(_NoDelay, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_NoDelay, http.client.HTTPSConnection):
    pass


def connect(parts: urllib.parse.SplitResult, timeout: float) -> http.client.HTTPConnection:
    if parts.scheme == "https":
        return _HTTPSConnection(parts.netloc, timeout=timeout)
    if parts.scheme == "http":
        return _HTTPConnection(parts.netloc, timeout=timeout)
    raise ValueError(f"not an http(s) URL: {parts.geturl()!r}")


def target(parts: urllib.parse.SplitResult) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
