"""CloudEvents shaped like Google's own test data parse into typed values; others are refused."""

from __future__ import annotations

import base64
import json

import pytest
from cloudevents.http import CloudEvent

from shared.errors import InvalidEvent
from shared.events.cloudevents import PUBSUB_PUBLISHED, STORAGE_FINALIZED, parse_pubsub_message, parse_storage_object
from shared.events.job_logs import parse_job_log_entry

# Shaped like googleapis/google-cloudevents testdata: size and generation are strings.
STORAGE_DATA = {
    "bucket": "flexrun-packages",
    "contentType": "application/gzip",
    "generation": "1587627537231057",
    "id": "flexrun-packages/packages/flexrun_trainer-0.1.0.tar.gz/1587627537231057",
    "kind": "storage#object",
    "md5Hash": "kF8MuJ5+CTJxvyhHS1xzRg==",
    "metadata": {"uploader": "alice"},
    "metageneration": "1",
    "name": "packages/flexrun_trainer-0.1.0.tar.gz",
    "size": "2048",
    "storageClass": "STANDARD",
    "timeCreated": "2020-04-23T07:38:57.230Z",
    "updated": "2020-04-23T07:38:57.230Z",
}


def storage_event(data) -> CloudEvent:
    return CloudEvent(
        {
            "type": STORAGE_FINALIZED,
            "source": "//storage.googleapis.com/projects/_/buckets/flexrun-packages",
            "subject": "objects/packages/flexrun_trainer-0.1.0.tar.gz",
            "id": "1",
        },
        data,
    )


def pubsub_event(payload: bytes, attributes=None) -> CloudEvent:
    data = {
        "message": {
            "data": base64.b64encode(payload).decode(),
            "attributes": attributes or {},
            "messageId": "77",
            "message_id": "77",
            "publishTime": "2026-11-27T01:00:00.000Z",
        },
        "subscription": "projects/p/subscriptions/s",
    }
    return CloudEvent(
        {"type": PUBSUB_PUBLISHED, "source": "//pubsub.googleapis.com/projects/p/topics/t", "id": "2"}, data
    )


def test_storage_event_with_string_numbers_parses():
    obj = parse_storage_object(storage_event(STORAGE_DATA))
    assert obj.dedupe_key == ("flexrun-packages", "packages/flexrun_trainer-0.1.0.tar.gz", 1587627537231057)
    assert obj.size == 2048 and obj.metadata == {"uploader": "alice"}


def test_unknown_fields_in_storage_data_are_ignored():
    assert parse_storage_object(storage_event({**STORAGE_DATA, "newField": {"x": 1}})).name.endswith(".tar.gz")


def test_storage_event_without_generation_is_invalid():
    with pytest.raises(InvalidEvent):
        parse_storage_object(storage_event({k: v for k, v in STORAGE_DATA.items() if k != "generation"}))


def test_wrong_event_type_is_invalid():
    with pytest.raises(InvalidEvent, match="unexpected event type"):
        parse_storage_object(pubsub_event(b"{}"))


def test_pubsub_message_keeps_data_attributes_and_id():
    message = parse_pubsub_message(pubsub_event(b'{"a": 1}', {"schedule": "nightly"}))
    assert (message.json(), message.attributes, message.message_id) == ({"a": 1}, {"schedule": "nightly"}, "77")


@pytest.mark.parametrize("message", [{}, {"k": [None]}, {"data": ""}, None])
def test_a_message_without_a_message_id_is_no_pubsub_delivery_and_never_an_empty_run_request(message):
    # Pub/Sub gives every delivered message its ID; an empty message with one is a valid run request.
    event = CloudEvent({"type": PUBSUB_PUBLISHED, "source": "s", "id": "3"}, {"message": message})
    with pytest.raises(InvalidEvent, match="messageId"):
        parse_pubsub_message(event)


@pytest.mark.parametrize("data", ["@@not base64@@", "%%%", "####====", "\u00fc", "e30=x", 7])
def test_bad_base64_is_an_invalid_event_never_empty_data(data):
    # protobuf's JSON parser would drop the bad characters: "%%%" would be empty data, a valid run request.
    message = {"data": data, "messageId": "1"}
    event = CloudEvent({"type": PUBSUB_PUBLISHED, "source": "s", "id": "3"}, {"message": message})
    with pytest.raises(InvalidEvent):
        parse_pubsub_message(event)


@pytest.mark.parametrize("data", ["e30=", "e30", "eyJhIjogMX0=", "-_-_"])
def test_standard_and_url_safe_base64_with_or_without_padding_is_read(data):
    message = {"data": data, "messageId": "1"}
    event = CloudEvent({"type": PUBSUB_PUBLISHED, "source": "s", "id": "3"}, {"message": message})
    assert parse_pubsub_message(event).message_id == "1"


def test_vertex_service_log_entry_names_the_job():
    entry = {
        "resource": {"type": "ml_job", "labels": {"job_id": "123456", "project_id": "p", "task_name": "service"}},
        "severity": "INFO",
        "textPayload": "Job is running.",
    }
    wake_up = parse_job_log_entry(parse_pubsub_message(pubsub_event(json.dumps(entry).encode())))
    assert wake_up is not None and wake_up.job_id == "123456"


def test_replica_logs_and_other_resources_are_not_wake_ups():
    replica = {"resource": {"type": "ml_job", "labels": {"job_id": "1", "task_name": "workerpool0-0"}}}
    other = {"resource": {"type": "gce_instance", "labels": {}}}
    for entry in (replica, other):
        assert parse_job_log_entry(parse_pubsub_message(pubsub_event(json.dumps(entry).encode()))) is None


def test_log_entry_without_job_id_is_invalid():
    entry = {"resource": {"type": "ml_job", "labels": {"task_name": "service"}}, "textPayload": "hello"}
    with pytest.raises(InvalidEvent):
        parse_job_log_entry(parse_pubsub_message(pubsub_event(json.dumps(entry).encode())))


def test_log_entry_whose_resource_is_not_an_object_is_invalid_not_a_crash():
    for entry in ({"resource": "x"}, {"resource": ["ml_job"]}, {"resource": {"type": "ml_job", "labels": "x"}}):
        with pytest.raises(InvalidEvent):
            parse_job_log_entry(parse_pubsub_message(pubsub_event(json.dumps(entry).encode())))
