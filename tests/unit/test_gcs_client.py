"""shared/cloud/gcs.py without a server: the requests it builds and which failures it retries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.cloud import gcs
from shared.cloud.http import NotFound, Response, ServerError


class RecordingApi:
    """Answers each request with the next of `answers` (an exception is raised) and records it."""

    def __init__(self, *answers: Response | Exception) -> None:
        self.answers, self.sent = list(answers), []

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        self.sent.append((method, path, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _client(monkeypatch: pytest.MonkeyPatch, *answers: Response | Exception) -> tuple[gcs.StorageClient, RecordingApi]:
    monkeypatch.setattr(gcs, "BACKOFF_SECONDS", 0.0)
    client = gcs.StorageClient("p", "http://127.0.0.1:1")
    api = RecordingApi(*answers)
    client.api = api  # type: ignore[assignment]
    return client, api


def _ok(body: bytes = b"", **headers: str) -> Response:
    return Response(200, headers, body)


def test_an_object_name_is_percent_encoded_whole_slashes_included(monkeypatch):
    client, api = _client(monkeypatch, _ok(b"x", **{"x-goog-generation": "7"}))
    blob = client.bucket("b").blob("packages/a b+c.tar.gz")
    assert blob.download_as_bytes() == b"x" and blob.generation == 7
    method, path, kwargs = api.sent[0]
    assert (method, path) == ("GET", "storage/v1/b/b/o/packages%2Fa%20b%2Bc.tar.gz")
    assert kwargs["params"]["alt"] == "media"


def test_a_read_is_retried_after_a_server_error(monkeypatch):
    client, api = _client(monkeypatch, ServerError("busy", http_status=503), _ok(b"x"))
    assert client.bucket("b").blob("o").download_as_bytes() == b"x" and len(api.sent) == 2


def test_an_upload_without_a_precondition_is_not_retried_it_may_have_landed(monkeypatch):
    client, api = _client(monkeypatch, ServerError("busy", http_status=503), _ok(b"{}"))
    with pytest.raises(ServerError):
        client.bucket("b").blob("o").upload_from_string(b"x")
    assert len(api.sent) == 1


def test_a_conditional_upload_is_retried_and_sends_metadata_then_bytes(monkeypatch):
    answer = _ok(json.dumps({"generation": "12", "cacheControl": "no-store"}).encode())
    client, api = _client(monkeypatch, ServerError("busy", http_status=503), answer)
    blob = client.bucket("b").blob("manifest.json")
    blob.cache_control = "no-store"
    blob.upload_from_string(b'{"v": 1}', content_type="application/json", if_generation_match=0)
    assert blob.generation == 12 and len(api.sent) == 2
    _, path, kwargs = api.sent[1]
    assert path == "upload/storage/v1/b/b/o"
    assert kwargs["params"] == {"uploadType": "multipart", "ifGenerationMatch": 0}
    body: bytes = kwargs["body"]
    metadata = json.loads(body.split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0])
    assert metadata == {"name": "manifest.json", "contentType": "application/json", "cacheControl": "no-store"}
    assert body.index(b'{"v": 1}') > body.index(b"cacheControl")


def test_not_found_is_not_retried_and_exists_reads_it_as_false(monkeypatch):
    client, api = _client(monkeypatch, NotFound("gone"))
    assert client.bucket("b").blob("o").exists() is False and len(api.sent) == 1


def test_a_copy_names_the_source_generation_and_the_destination_precondition(monkeypatch):
    client, api = _client(monkeypatch, _ok(json.dumps({"generation": "3"}).encode()))
    bucket = client.bucket("b")
    source = bucket.blob("packages/x")
    copied = bucket.copy_blob(source, bucket, "deployable/x", if_generation_match=0, source_generation=2)
    _, path, kwargs = api.sent[0]
    assert path == "storage/v1/b/b/o/packages%2Fx/copyTo/b/b/o/deployable%2Fx"
    assert kwargs["params"] == {"ifGenerationMatch": 0, "sourceGeneration": 2} and copied.generation == 3


@pytest.mark.parametrize(("value", "endpoint"), [("127.0.0.1:9", "http://127.0.0.1:9"), ("http://h:1", "http://h:1")])
def test_storage_emulator_host_may_omit_the_scheme(monkeypatch, value, endpoint):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", value)
    assert gcs.emulator_endpoint() == endpoint
