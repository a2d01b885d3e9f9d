"""shared/cloud/http.py against a real HTTP server on loopback: errors, keep-alive, streams."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.cloud import http

ANSWERS: dict[str, tuple[int, bytes]] = {
    "/ok": (200, b'{"name": "x"}'),
    "/missing": (
        404,
        b'{"error": {"code": 404, "message": "No such object: b/o", "errors": [{"reason": "notFound"}]}}',
    ),
    "/raced": (
        412,
        b'{"error": {"code": 412, "message": "At least one of the pre-conditions you specified did not hold."}}',
    ),
    "/quota": (
        429,
        b'{"error": {"code": 429, "message": "The following quota metrics exceed quota limits", '
        b'"status": "RESOURCE_EXHAUSTED"}}',
    ),
    "/down": (503, b"upstream connect error"),
    "/teapot": (418, b""),
    "/big": (200, b"x" * (3 << 20)),
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends answer
    connections: set[tuple[str, int]] = set()
    bodies: list[bytes] = []

    def _answer(self) -> None:
        type(self).connections.add(self.client_address)  # one client port per connection
        length = int(self.headers.get("Content-Length") or 0)
        type(self).bodies.append(self.rfile.read(length) if length else b"")
        status, body = ANSWERS.get(self.path.split("?")[0], (200, json.dumps({"path": self.path}).encode()))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/bye":
            self.close_connection = True  # closed after answering, with no `Connection: close`: an idle timeout

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 — the base class's name
        pass


@pytest.fixture
def api() -> Iterator[http.JsonApi]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.connections.clear()
    _Handler.bodies.clear()
    try:
        yield http.JsonApi(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()


def test_google_error_bodies_become_typed_errors_with_their_message(api: http.JsonApi) -> None:
    with pytest.raises(http.NotFound) as missing:
        api.request("GET", "missing")
    assert (missing.value.code, missing.value.reason) == (404, "notFound")
    assert "No such object" in str(missing.value)
    with pytest.raises(http.PreconditionFailed):
        api.request("POST", "raced", json_body={})
    with pytest.raises(http.TooManyRequests) as quota:
        api.request("GET", "quota")
    assert quota.value.status == "RESOURCE_EXHAUSTED" and quota.value.retryable


def test_a_5xx_without_a_json_body_is_a_retryable_server_error(api: http.JsonApi) -> None:
    with pytest.raises(http.ServerError) as down:
        api.request("GET", "down")
    assert down.value.code == 503 and down.value.retryable
    assert "upstream connect error" in down.value.message


def test_a_status_without_its_own_type_keeps_its_number_and_is_not_retried(api: http.JsonApi) -> None:
    with pytest.raises(http.ApiError) as odd:
        api.request("GET", "teapot")
    assert odd.value.code == 418 and not odd.value.retryable


def test_requests_of_one_thread_reuse_one_connection(api: http.JsonApi) -> None:
    for _ in range(5):
        assert api.request("GET", "ok").json() == {"name": "x"}
    assert len(_Handler.connections) == 1


def test_a_connection_the_server_closed_is_replaced_without_failing_the_request(api: http.JsonApi) -> None:
    api.request("GET", "bye")
    assert api.request("GET", "ok").json() == {"name": "x"}
    assert len(_Handler.connections) == 2


def test_query_parameters_are_encoded_and_none_values_left_out(api: http.JsonApi) -> None:
    answer = api.request("GET", "echo", params={"name": "packages/a b.tar.gz", "ifGenerationMatch": None})
    assert answer.json() == {"path": "/echo?name=packages%2Fa+b.tar.gz"}


def test_a_json_body_is_sent_as_json(api: http.JsonApi) -> None:
    api.request("POST", "echo", json_body={"displayName": "run"})
    assert json.loads(_Handler.bodies[-1]) == {"displayName": "run"}


def test_a_stream_is_read_in_pieces(api: http.JsonApi) -> None:
    with api.stream("big") as body:
        pieces = iter(lambda: body.read(1 << 20), b"")
        assert [len(p) for p in pieces] == [1 << 20] * 3


def test_a_refused_connection_is_an_os_error_for_the_callers_retry() -> None:
    with pytest.raises(OSError):
        http.JsonApi("http://127.0.0.1:9", timeout=2).request("GET", "ok")
