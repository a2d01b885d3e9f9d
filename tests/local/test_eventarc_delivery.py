"""Eventarc bridge: what a function receives is what Eventarc would deliver."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from deploy import topology
from local.services.cloud import LocalCloud

pytestmark = pytest.mark.integration
Received = Callable[[str, str, str], list[dict[str, Any]]]
WaitFor = Callable[..., Any]


def test_upload_with_storage_client_arrives_as_finalized_event_with_storage_object_data(
    recording_cloud: LocalCloud, received: Received, wait_for: WaitFor
) -> None:
    name = f"packages/{uuid.uuid4().hex}/trainer-0.1.0.tar.gz"
    blob = recording_cloud.storage_client().bucket(topology.PACKAGE_BUCKET).blob(name)
    blob.upload_from_string(b"not really a tarball", content_type="application/gzip")

    [event] = wait_for(lambda: received("on_package_uploaded", "name", name), what="finalize event")

    attributes, data = event["attributes"], event["data"]
    assert attributes["type"] == "google.cloud.storage.object.v1.finalized"
    assert attributes["source"] == f"//storage.googleapis.com/projects/_/buckets/{topology.PACKAGE_BUCKET}"
    assert attributes["subject"] == f"objects/{name}"
    assert attributes["specversion"] == "1.0" and attributes["id"] and attributes["time"].endswith("Z")
    assert attributes["datacontenttype"] == "application/json"
    assert data["bucket"] == topology.PACKAGE_BUCKET and data["name"] == name
    assert data["contentType"] == "application/gzip"
    # int64 fields are strings in real StorageObjectData (google-cloudevents testdata)
    assert data["size"] == str(len(b"not really a tarball"))
    assert data["generation"] == str(blob.generation) and data["metageneration"] == "1"
    assert data["id"] == f"{topology.PACKAGE_BUCKET}/{name}/{blob.generation}"
    assert data["md5Hash"] == blob.md5_hash and data["crc32c"] == blob.crc32c


def test_upload_to_another_bucket_reaches_no_function(
    recording_cloud: LocalCloud, received: Received, wait_for: WaitFor
) -> None:
    storage = recording_cloud.storage_client()
    name = f"staging/{uuid.uuid4().hex}"
    storage.bucket(topology.STAGING_BUCKET).blob(name).upload_from_string(b"x")
    marker = f"after/{uuid.uuid4().hex}"  # uploaded second: once it arrives, the first was handled
    storage.bucket(topology.PACKAGE_BUCKET).blob(marker).upload_from_string(b"x")

    wait_for(lambda: received("on_package_uploaded", "name", marker), what="marker event")
    assert not received("on_package_uploaded", "name", name)


def test_published_message_arrives_as_message_published_with_attributes_intact(
    recording_cloud: LocalCloud, received: Received, wait_for: WaitFor
) -> None:
    publisher = recording_cloud.publisher()
    topic = publisher.topic_path(topology.PROJECT_ID, topology.RUN_REQUESTS_TOPIC)
    key = uuid.uuid4().hex
    message_id = publisher.publish(topic, b'{"gpu": "NVIDIA_L4"}', run_key=key, origin="test").result()

    [event] = wait_for(lambda: received("on_run_requested", "run_key", key), what="message")

    attributes, data = event["attributes"], event["data"]
    assert attributes["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert attributes["source"] == f"//pubsub.googleapis.com/projects/{topology.PROJECT_ID}/topics/run-requests"
    assert attributes["id"] == message_id
    assert data["subscription"] == f"projects/{topology.PROJECT_ID}/subscriptions/eventarc-submit-run"
    message = data["message"]
    assert message["attributes"] == {"run_key": key, "origin": "test"}
    assert base64.b64decode(message["data"]) == b'{"gpu": "NVIDIA_L4"}'
    assert message["messageId"] == message["message_id"] == message_id
    assert message["publishTime"] == attributes["time"]


def test_function_answering_500_gets_the_event_again_until_it_succeeds(
    recording_cloud: LocalCloud, received: Received, wait_for: WaitFor
) -> None:
    publisher = recording_cloud.publisher()
    topic = publisher.topic_path(topology.PROJECT_ID, topology.JOB_EVENTS_TOPIC)
    key = uuid.uuid4().hex
    publisher.publish(topic, b"{}", run_key=key, fail_times="2").result()  # 500, 500, then 200

    def third_delivery() -> list[dict[str, Any]] | None:
        deliveries = received("on_job_state_changed", "run_key", key)
        return deliveries if len(deliveries) >= 3 else None

    deliveries = wait_for(third_delivery, timeout=15, what="the third delivery")
    assert len({event["attributes"]["id"] for event in deliveries}) == 1  # one event, redelivered
    time.sleep(2.5)  # past the next backoff (2 s): once answered 200 it is not delivered again
    assert len(received("on_job_state_changed", "run_key", key)) == 3


def test_function_answering_200_gets_the_event_once(
    recording_cloud: LocalCloud, received: Received, wait_for: WaitFor
) -> None:
    publisher = recording_cloud.publisher()
    topic = publisher.topic_path(topology.PROJECT_ID, topology.RUN_REQUESTS_TOPIC)
    key = uuid.uuid4().hex
    publisher.publish(topic, b"{}", run_key=key).result()

    wait_for(lambda: received("on_run_requested", "run_key", key), what="delivery")
    time.sleep(1.5)  # longer than the first retry backoff (0.5 s)
    assert len(received("on_run_requested", "run_key", key)) == 1
