"""shared/cloud/metadata_token.py against a loopback stand-in for the metadata server (GCE_METADATA_HOST)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shared.cloud import http as wire
from shared.cloud import metadata_token
from shared.config import logs

REPO_ROOT = Path(__file__).resolve().parents[2]


class _MetadataServer(BaseHTTPRequestHandler):
    """Answers the token path as Google's does, and refuses a request without Metadata-Flavor: Google."""

    status = 200
    delay = 0.0
    expires_in = 3599
    requests: list[tuple[str, str | None]] = []
    _lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 — the base class's name
        cls = type(self)
        with cls._lock:
            cls.requests.append((self.path, self.headers.get("Metadata-Flavor")))
            count = len(cls.requests)
        time.sleep(cls.delay)
        if self.headers.get("Metadata-Flavor") != "Google":
            status, body = 403, b"Missing Metadata-Flavor:Google header."
        elif not self.path.startswith(metadata_token.TOKEN_PATH):
            status, body = 404, b"not found"
        elif cls.status != 200:
            status, body = cls.status, b"unavailable"
        else:
            answer = {"access_token": f"ya29.stand-in-{count}", "expires_in": cls.expires_in, "token_type": "Bearer"}
            status, body = 200, json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 — the base class's name
        pass


@pytest.fixture
def metadata_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _MetadataServer.status, _MetadataServer.delay, _MetadataServer.expires_in = 200, 0.0, 3599
    _MetadataServer.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MetadataServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("K_SERVICE", "submit-run")
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", host)
    metadata_token.reset()
    try:
        yield host
    finally:
        metadata_token.reset()
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_token_request_sends_metadata_flavor_and_the_stand_in_refuses_one_without_it(metadata_host: str) -> None:
    assert metadata_token.token((wire.CLOUD_PLATFORM,)) == "ya29.stand-in-1"
    path, flavor = _MetadataServer.requests[0]
    assert flavor == "Google"
    assert path == metadata_token.TOKEN_PATH + "?scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform"

    connection = http.client.HTTPConnection(metadata_host, timeout=5)
    connection.request("GET", metadata_token.TOKEN_PATH)
    assert connection.getresponse().status == 403
    connection.close()


def test_credentials_send_the_metadata_token_as_bearer_on_the_serverless_runtime(metadata_host: str) -> None:
    headers: dict[str, str] = {}
    api = wire.JsonApi("https://storage.googleapis.com")
    api.credentials.apply("GET", api.url("storage/v1/b/x"), headers)
    assert headers["Authorization"] == "Bearer ya29.stand-in-1"
    other: dict[str, str] = {}
    wire.JsonApi("https://aiplatform.googleapis.com").credentials.apply(
        "GET", "https://aiplatform.googleapis.com/", other
    )
    assert other == headers and len(_MetadataServer.requests) == 1  # one token per process, not per client


def test_token_is_cached_until_five_minutes_before_expiry_then_refreshed(metadata_host: str) -> None:
    _MetadataServer.expires_in = 3600
    now = [1000.0]
    source = metadata_token.MetadataTokenSource((wire.CLOUD_PLATFORM,), clock=lambda: now[0])
    assert source.token() == "ya29.stand-in-1"
    now[0] += 3600 - metadata_token.REFRESH_MARGIN_SECONDS - 1
    assert source.token() == "ya29.stand-in-1"
    assert len(_MetadataServer.requests) == 1
    now[0] += 1
    assert source.token() == "ya29.stand-in-2"
    assert len(_MetadataServer.requests) == 2


def test_concurrent_first_calls_fetch_the_token_once(metadata_host: str) -> None:
    _MetadataServer.delay = 0.2  # the first fetch is still in flight when the other threads ask
    source = metadata_token.MetadataTokenSource((wire.CLOUD_PLATFORM,))
    start = threading.Barrier(8)
    seen: list[str] = []

    def ask() -> None:
        start.wait()
        seen.append(source.token())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == ["ya29.stand-in-1"] * 8
    assert len(_MetadataServer.requests) == 1


def test_server_error_is_retryable_and_not_cached(metadata_host: str) -> None:
    _MetadataServer.status = 503
    with pytest.raises(wire.TRANSIENT) as caught:
        metadata_token.token((wire.CLOUD_PLATFORM,))
    assert isinstance(caught.value, metadata_token.MetadataTokenError)
    assert "503" in str(caught.value)
    _MetadataServer.status = 200
    assert metadata_token.token((wire.CLOUD_PLATFORM,)) == "ya29.stand-in-2"


def test_refused_connection_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K_SERVICE", "submit-run")
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{_free_port()}")  # nothing listens there
    metadata_token.reset()
    with pytest.raises(wire.TRANSIENT) as caught:
        wire.JsonApi("https://storage.googleapis.com").credentials.apply("GET", "https://storage.googleapis.com/", {})
    assert isinstance(caught.value, metadata_token.MetadataTokenError)
    metadata_token.reset()


def test_fetched_token_is_cut_out_of_log_lines(metadata_host: str) -> None:
    token = metadata_token.token((wire.CLOUD_PLATFORM,))
    assert token not in logs.scrub(f"GET with Authorization: Bearer {token}")
    assert token not in repr(metadata_token.AccessToken(token, 0.0))


def test_metadata_path_needs_k_service_and_no_credentials_file() -> None:
    assert metadata_token.applies({"K_SERVICE": "submit-run"})
    assert not metadata_token.applies({})
    assert not metadata_token.applies({"K_SERVICE": "submit-run", "GOOGLE_APPLICATION_CREDENTIALS": "/adc.json"})


class _AdcCredentials:
    def before_request(self, request: Any, method: str, url: str, headers: dict[str, str]) -> None:
        headers["Authorization"] = "Bearer adc"


@pytest.mark.parametrize(
    "environment",
    [
        {"GOOGLE_APPLICATION_CREDENTIALS": "adc.json"},
        {"K_SERVICE": "submit-run", "GOOGLE_APPLICATION_CREDENTIALS": "adc.json"},
    ],
    ids=["no K_SERVICE", "credentials file set"],
)
def test_credentials_stay_on_google_auth_default_off_the_metadata_path(
    metadata_host: str, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    import google.auth

    monkeypatch.delenv("K_SERVICE", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(google.auth, "default", lambda scopes=None: (_AdcCredentials(), "project"))
    headers: dict[str, str] = {}
    wire.JsonApi("https://storage.googleapis.com").credentials.apply("GET", "https://storage.googleapis.com/", headers)
    assert headers["Authorization"] == "Bearer adc"
    assert _MetadataServer.requests == []


def test_http_endpoint_stays_anonymous_on_the_serverless_runtime(metadata_host: str) -> None:
    headers: dict[str, str] = {}
    wire.JsonApi("http://127.0.0.1:9").credentials.apply("GET", "http://127.0.0.1:9/", headers)
    assert "Authorization" not in headers and _MetadataServer.requests == []


def test_metadata_path_imports_neither_google_auth_nor_requests(metadata_host: str) -> None:
    script = (
        "import sys\n"
        "from shared.cloud.http import JsonApi\n"
        "headers = {}\n"
        "api = JsonApi('https://storage.googleapis.com')\n"
        "api.credentials.apply('GET', api.url('storage/v1/b/x'), headers)\n"
        "assert headers['Authorization'] == 'Bearer ya29.stand-in-1', headers\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'requests' or m.startswith('google.auth')))\n"
    )
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_ROOT),
        "K_SERVICE": "submit-run",
        "GCE_METADATA_HOST": metadata_host,
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
