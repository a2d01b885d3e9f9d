"""Secrets named by the job (`X_SECRET=projects/.../versions/V`) are read from Secret Manager, not carried.

A small Secret Manager REST stand-in plays the cloud edge; the production client talks to it unchanged.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flexrun_trainer.errors import ConfigError
from flexrun_trainer.secrets import resolve_secret_env, secret_manager_access

VERSION = "projects/p/secrets/mongodb-url/versions/3"
VALUE = "mongodb://user:s3cr3t-value@db.example:27017/prices"


class _SecretManager(BaseHTTPRequestHandler):
    secrets: dict[str, str] = {VERSION: VALUE}
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).requests.append(self.path)
        name = self.path.split("?")[0].removeprefix("/v1/").removesuffix(":access")
        if name not in self.secrets:
            body, status = {"error": {"code": 404, "message": f"Secret [{name}] not found", "status": "NOT_FOUND"}}, 404
        else:
            body, status = (
                {"name": name, "payload": {"data": base64.b64encode(self.secrets[name].encode()).decode()}},
                200,
            )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def secret_manager() -> Iterator[str]:
    _SecretManager.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SecretManager)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_named_secret_version_is_read_into_the_plain_variable(secret_manager: str):
    env = {"MONGODB_URL_SECRET": VERSION}
    assert resolve_secret_env(env, secret_manager_access(secret_manager)) == ["MONGODB_URL"]
    assert env["MONGODB_URL"] == VALUE
    assert len(_SecretManager.requests) == 1 and _SecretManager.requests[0].startswith(f"/v1/{VERSION}:access")


def test_a_variable_already_set_wins_and_nothing_is_read(secret_manager: str):
    env = {"MONGODB_URL_SECRET": VERSION, "MONGODB_URL": "mongodb://laptop/prices"}
    assert resolve_secret_env(env, secret_manager_access(secret_manager)) == []
    assert env["MONGODB_URL"] == "mongodb://laptop/prices" and _SecretManager.requests == []


def test_a_missing_secret_is_a_configuration_error(secret_manager: str):
    with pytest.raises(ConfigError, match="cannot read secret"):
        resolve_secret_env({"X_SECRET": "projects/p/secrets/nope/versions/1"}, secret_manager_access(secret_manager))


def test_a_malformed_secret_name_stops_the_trainer_with_exit_2_before_training():
    env = {**os.environ, "MONGODB_URL_SECRET": "mongodb://not-a-secret-name"}
    result = subprocess.run(
        [sys.executable, "-m", "flexrun_trainer.task", "--output-dir", "/nonexistent"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "MONGODB_URL_SECRET must name a secret version" in result.stdout + result.stderr
    assert "mongodb://not-a-secret-name" not in result.stdout + result.stderr
