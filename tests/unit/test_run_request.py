"""Run messages: defaults, overrides, and clear refusals of bad input."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from shared.errors import InvalidEvent, InvalidRunRequest
from shared.events.cloudevents import PubsubMessage
from shared.runs.request import default_run_key, label_value, parse_run_request


def message(data: bytes | dict, attributes: dict[str, str] | None = None, message_id: str = "123") -> PubsubMessage:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return PubsubMessage(raw, attributes or {}, message_id, datetime(2026, 11, 27, 1, 0, 7, tzinfo=timezone.utc))


def test_empty_message_means_defaults():
    request = parse_run_request(message(b""))
    assert request.gpu is None and request.max_wait is None and request.args == [] and request.replicas == 1


def test_a_message_can_ask_for_several_replicas():
    assert parse_run_request(message({"replicas": 2})).replicas == 2


def test_overrides_are_read():
    request = parse_run_request(
        message({"gpu": {"type": "NVIDIA_L4", "count": 2}, "max_wait": 0, "args": ["--epochs", "3"]})
    )
    assert (request.gpu.type, request.gpu.count, request.max_wait, request.args) == (
        "NVIDIA_L4",
        2,
        0,
        ["--epochs", "3"],
    )


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"gpus": 1}, "gpus"),
        ({"timeout": 604801}, "timeout"),
        ({"max_wait": -1}, "max_wait"),
        ({"run_key": "Has Spaces"}, "run_key"),
        ({"env": {"SUPABASE_KEY": "x"}}, "env"),
        ({"env": {"lower": "x"}}, "env"),
        ({"schema_version": 2}, "schema_version"),
        ({"gpu": {"type": "NVIDIA_L4", "count": 0}}, "gpu.count"),
        ({"replicas": 0}, "replicas"),
        ({"replicas": 9}, "replicas"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(payload, field):
    with pytest.raises(InvalidRunRequest) as caught:
        parse_run_request(message(payload))
    assert field in str(caught.value)


def test_data_that_is_not_json_is_an_invalid_event():
    with pytest.raises(InvalidEvent):
        parse_run_request(message(b"\xff\xfe"))


def test_json_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidRunRequest):
        parse_run_request(message(b"[1, 2]"))


def test_scheduled_runs_are_keyed_by_schedule_and_minute():
    key = default_run_key(message(b"", {"schedule": "nightly"}, message_id="9"))
    assert key == "nightly-20261127t0100"
    assert default_run_key(message(b"", {"schedule": "nightly"}, message_id="10")) == key


def test_hand_published_runs_are_keyed_by_message_id():
    assert default_run_key(message(b"", message_id="4242")) == "msg-4242"


def test_label_values_stay_within_vertex_rules_and_unique():
    long_a, long_b = label_value("A" * 80 + "1"), label_value("A" * 80 + "2")
    assert len(long_a) <= 63 and long_a != long_b
    assert label_value("0.1.0+local") == "0-1-0-local"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"max_wait": "half an hour"}, "max_wait"),  # not the duration grammar (shared/config/durations.py)
        ({"max_wait": 1.5}, "max_wait"),  # strict: whole seconds
        ({"timeout": True}, "timeout"),
        ({"gpu": {"type": "NVIDIA_IMAGINARY"}}, "gpu.type"),
        ({"gpu": "L4 twice"}, "gpu"),
        ({"gpu": 4}, "gpu"),
        ({"args": "--epochs 3"}, "args"),
        ({"machine_type": "G2 standard"}, "machine_type"),
        ({"fallback": ["L4:SOMETIMES"]}, "fallback"),
    ],
)
def test_wrong_types_and_unknown_gpus_are_refused_with_the_field_named(payload, field):
    with pytest.raises(InvalidRunRequest) as caught:
        parse_run_request(message(payload))
    assert f"{field}:" in str(caught.value)


@pytest.mark.parametrize("shorthand, count", [("L4", 1), ("L4x2", 2), ("nvidia_l4X4", 4)])
def test_a_gpu_given_as_text_is_a_type_and_count(shorthand, count):
    gpu = parse_run_request(message({"gpu": shorthand})).gpu
    assert (gpu.type, gpu.count) == ("NVIDIA_L4", count)


def test_a_gpu_refusal_names_the_accepted_forms():
    with pytest.raises(InvalidRunRequest, match='accepted forms: "L4", "L4x2"'):
        parse_run_request(message({"gpu": "L4 twice"}))


def test_gpu_short_names_become_accelerator_names():
    assert parse_run_request(message({"gpu": {"type": "H200", "count": 8}})).gpu.type == "NVIDIA_H200_141GB"


def test_a_week_is_the_longest_timeout():
    assert parse_run_request(message({"timeout": 7 * 24 * 3600})).timeout == 604800
