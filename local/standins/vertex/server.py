"""HTTP front: maps the Vertex AI REST v1 paths onto JobService, plus health and admin routes.

The stdlib ThreadingHTTPServer is enough here: loopback only, a handful of clients, JSON in and
out, and it adds no dependency to the local cloud. One thread per connection keeps a slow
request from blocking others.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.cloud import aiplatform_v1
from google.protobuf import json_format

from local.standins.http_handler import StandinHandler
from local.standins.vertex.capacity import CapacityPool
from local.standins.vertex.errors import ApiError, from_http_status
from local.standins.vertex.service import JobService, render
from shared.config.logs import log

_PARENT = r"/v1/(?P<parent>projects/[^/]+/locations/[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(_PARENT + r"/customJobs"), "create"),
    ("GET", re.compile(_PARENT + r"/customJobs"), "list"),
    ("GET", re.compile(_PARENT + r"/customJobs/(?P<id>[0-9]+)"), "get"),
    ("POST", re.compile(_PARENT + r"/customJobs/(?P<id>[0-9]+):cancel"), "cancel"),
]


class FaultInjector:
    """Answer the next `count` API calls with `status` (chaos tests: 429, 503)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status = 0
        self._left = 0

    def arm(self, status: int, count: int) -> None:
        with self._lock:
            self._status, self._left = status, count

    def take(self) -> ApiError | None:
        with self._lock:
            if self._left <= 0:
                return None
            self._left -= 1
            return from_http_status(self._status, f"Injected fault ({self._left} more to come).")


class VertexServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: JobService, capacity: CapacityPool) -> None:
        super().__init__(address, _Handler)
        self.service = service
        self.capacity = capacity
        self.faults = FaultInjector()


class _Handler(StandinHandler):
    server: VertexServer
    protocol_version = "HTTP/1.1"  # keep-alive, as shared/cloud/http.py keeps its connections

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # access lines would drown the one-line-per-decision log; errors are logged below

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._body()
        try:
            if url.path == "/healthz":
                return self._send(200, '{"status": "ok"}')
            if url.path.startswith("/_admin/"):
                return self._admin(method, url.path, body)
            fault = self.server.faults.take()
            if fault is not None:
                log("INFO", "fault injected", path=url.path, status=fault.status)
                raise fault
            self._api(method, url.path, url.query, body)
        except ApiError as error:
            log("INFO", "request refused", method=method, path=url.path, status=error.status, error=error.message)
            self._send(error.http_status, json.dumps(error.body()))
        except Exception as error:  # a bug answers 500 in Google's shape, never a dropped socket
            log("ERROR", "request crashed", method=method, path=url.path, error=repr(error))
            self._send(500, json.dumps(ApiError("INTERNAL", repr(error)).body()))

    def _api(self, method: str, path: str, query: str, body: str) -> None:
        params = parse_qs(query, keep_blank_values=True)
        # The client sends `$alt=json;enum-encoding=int` and parses enums as numbers then.
        ints = "enum-encoding=int" in query
        service = self.server.service
        for route_method, pattern, action in _ROUTES:
            found = pattern.fullmatch(path)
            if route_method != method or found is None:
                continue
            parent = found["parent"]
            if action == "create":
                return self._send(200, render(service.create(parent, body or "{}"), ints))
            if action == "get":
                return self._send(200, render(service.get(f"{parent}/customJobs/{found['id']}"), ints))
            if action == "cancel":
                service.cancel(f"{parent}/customJobs/{found['id']}")
                return self._send(200, "{}")
            size = params.get("pageSize", ["0"])[0] or "0"
            if not size.isdigit():
                raise ApiError("INVALID_ARGUMENT", f"Invalid value for page_size: {size!r}")
            page = service.list(parent, params.get("filter", [""])[0], int(size), params.get("pageToken", [""])[0])
            response = json_format.ParseDict(
                page, aiplatform_v1.ListCustomJobsResponse.pb(aiplatform_v1.ListCustomJobsResponse())
            )
            return self._send(200, json_format.MessageToJson(response, use_integers_for_enums=ints, indent=None))
        raise ApiError("NOT_FOUND", f"local Vertex has no route for {method} {path}")

    def _admin(self, method: str, path: str, body: str) -> None:
        if path == "/_admin/capacity" and method == "GET":
            return self._send(200, json.dumps(self.server.capacity.snapshot()))
        if path == "/_admin/capacity" and method == "POST":
            slots = {str(k): int(v) for k, v in json.loads(body or "{}").items()}
            self.server.capacity.set_limits(slots)
            log("INFO", "capacity changed", slots=slots)
            return self._send(200, json.dumps(self.server.capacity.snapshot()))
        if path == "/_admin/faults" and method == "POST":
            fault = json.loads(body or "{}")
            self.server.faults.arm(int(fault.get("status", 503)), int(fault.get("count", 1)))
            log("INFO", "faults armed", status=fault.get("status", 503), count=fault.get("count", 1))
            return self._send(200, json.dumps(fault))
        raise ApiError("NOT_FOUND", f"no admin route {method} {path}")

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    def _send(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
