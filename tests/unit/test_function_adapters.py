"""The functions as functions-framework serves them, in process: what is acknowledged and what is not."""

from __future__ import annotations

import pytest
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from functions_framework import create_app

from shared.config.settings import get_settings

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"


@pytest.fixture
def validate_client(monkeypatch):
    monkeypatch.setenv("GCP_PROJECT_ID", "test-project")
    monkeypatch.setenv("GCP_BUCKET_NAME", "packages-bucket")
    # Nothing listens here: a test that reached storage would fail loudly instead of passing.
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("FUNCTION_TARGET", "on_package_uploaded")
    get_settings.cache_clear()
    yield create_app("on_package_uploaded", "functions/validate_package.py", "cloudevent").test_client()
    get_settings.cache_clear()


def post(client, attributes: dict, data):
    headers, body = to_binary(CloudEvent(attributes, data))
    return client.post("/", headers=headers, data=body)


def test_an_object_outside_the_packages_prefix_is_acknowledged_and_ignored(validate_client, capsys):
    attributes = {
        "type": STORAGE_FINALIZED,
        "source": "//storage.googleapis.com/projects/_/buckets/packages-bucket",
        "id": "e-1",
    }
    data = {"bucket": "packages-bucket", "name": "notes/readme.txt", "generation": "5", "size": "10"}
    response = post(validate_client, attributes, data)
    assert response.status_code == 200
    assert "package event ignored" in capsys.readouterr().err


def test_an_event_of_the_wrong_type_is_acknowledged_with_one_clear_line(validate_client, capsys):
    attributes = {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub", "id": "e-2"}
    response = post(validate_client, attributes, {"message": {"data": ""}})
    assert response.status_code == 200
    warnings = [line for line in capsys.readouterr().err.splitlines() if '"WARNING"' in line]
    assert len(warnings) == 1 and "unexpected event type" in warnings[0]


def test_a_request_without_cloudevent_attributes_is_refused(validate_client):
    assert validate_client.post("/", json={"bucket": "x"}).status_code == 400


def test_lazy_client_is_built_once_and_only_when_used():
    from shared.cloud.lazy import Lazy

    built: list[int] = []

    class Client:
        def ping(self) -> str:
            return "pong"

    def factory() -> Client:
        built.append(1)
        return Client()

    lazy = Lazy(factory)
    assert built == []
    assert (lazy.ping(), lazy.ping()) == ("pong", "pong")
    assert built == [1]


def test_a_bad_default_gpu_is_never_acknowledged_as_a_bad_message(monkeypatch, capsys):
    """Configuration is ours: the event is not acknowledged (the trigger redelivers it) and the
    variable is named, while the message itself, which names no GPU, is not blamed."""
    import base64

    monkeypatch.setenv("GCP_PROJECT_ID", "test-project")
    monkeypatch.setenv("VERTEX_AI_GPU_TYPE", "NVIDIA_FOO")
    monkeypatch.setenv("FUNCTION_TARGET", "on_run_requested")
    get_settings.cache_clear()
    client = create_app("on_run_requested", "functions/submit_run.py", "cloudevent").test_client()
    attributes = {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub", "id": "e-3"}
    data = {"message": {"data": base64.b64encode(b'{"run_key": "no-gpu-of-its-own"}').decode(), "messageId": "m"}}
    try:
        response = post(client, attributes, data)
    finally:
        get_settings.cache_clear()
    assert response.status_code >= 500  # not acknowledged
    logged = capsys.readouterr().err
    assert "VERTEX_AI_GPU_TYPE" in logged and "invalid_run_request" not in logged
