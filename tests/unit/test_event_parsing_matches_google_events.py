"""flexrun reads Storage and Pub/Sub event data itself (shared/events/proto_json.py) to spare every
function the import of google.events; here the same payloads go through google.events' official types
(as shared/events/cloudevents.py read them before) and through ours: the same values, or both refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from google.events.cloud.pubsub import MessagePublishedData
from google.events.cloud.storage import StorageObjectData
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import InvalidEvent
from shared.events import cloudevents as ce
from shared.events import proto_json
from shared.events.proto_json import BOOL, BYTES, INT32, INT64, STRING, STRING_MAP, TIMESTAMP, Message, json_name


def event(kind: str, data: Any) -> CloudEvent:
    return CloudEvent({"type": kind, "source": "//test", "id": "1"}, data)


def official_storage(data: Any) -> ce.StoredObject | str:
    """What the previous parser (StorageObjectData.from_json and its checks) made of `data`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else json.dumps(data)
        obj = StorageObjectData.from_json(text, ignore_unknown_fields=True)
    except Exception:
        return "refused"
    if not obj.bucket or not obj.name or obj.generation <= 0:
        return "refused"
    return ce.StoredObject(obj.bucket, obj.name, obj.generation, obj.size, obj.md5_hash, obj.content_type,
                           dict(obj.metadata), obj.time_created)  # fmt: skip


def official_pubsub(data: Any) -> ce.PubsubMessage | str:
    """What the previous parser (strict base64 check, MessagePublishedData.from_json) made of `data`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else json.dumps(data)
        raw = json.loads(text).get("message", {}).get("data") if isinstance(json.loads(text), dict) else None
    except (ValueError, AttributeError):
        raw = None
    if raw is not None and not _strict_base64(raw):
        return "refused"
    try:
        published = MessagePublishedData.from_json(text, ignore_unknown_fields=True)
    except Exception:
        return "refused"
    m = published.message
    if not m.message_id:
        return "refused"
    return ce.PubsubMessage(bytes(m.data), dict(m.attributes), m.message_id, m.publish_time, published.subscription)


def _strict_base64(value: Any) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9+/\-_]*={0,2}", value):
        return False
    text = value.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def ours(parse: Any, kind: str, data: Any) -> Any:
    try:
        return parse(event(kind, data))
    except InvalidEvent:
        return "refused"


def assert_same_storage(data: Any) -> Any:
    expected, actual = official_storage(data), ours(ce.parse_storage_object, ce.STORAGE_FINALIZED, data)
    assert actual == expected
    if isinstance(actual, ce.StoredObject) and actual.time_created is not None:
        assert actual.time_created.utcoffset() == timedelta(0)
    return actual


def assert_same_pubsub(data: Any) -> Any:
    expected, actual = official_pubsub(data), ours(ce.parse_pubsub_message, ce.PUBSUB_PUBLISHED, data)
    assert actual == expected
    return actual


_KINDS = {FieldDescriptor.TYPE_STRING: STRING, FieldDescriptor.TYPE_BYTES: BYTES, FieldDescriptor.TYPE_BOOL: BOOL,
          FieldDescriptor.TYPE_INT32: INT32, FieldDescriptor.TYPE_INT64: INT64}  # fmt: skip


def _official_schema(descriptor: Any) -> dict[str, Any]:
    """Field name → (JSON name, kind), as google.events' descriptor declares it."""
    fields: dict[str, Any] = {}
    for f in descriptor.fields:
        if f.message_type is None:
            kind: Any = _KINDS[f.type]
        elif f.message_type.GetOptions().map_entry:
            kind = STRING_MAP
        elif f.message_type.full_name == TIMESTAMP:
            kind = TIMESTAMP
        else:
            kind = _official_schema(f.message_type)
        fields[f.name] = (f.json_name, kind)
    return fields


def _our_schema(message: Message) -> dict[str, Any]:
    return {name: (json_name(name), _our_schema(kind) if isinstance(kind, Message) else kind)
            for name, kind in message.fields.items()}  # fmt: skip


@pytest.mark.parametrize(
    "our_message, official",
    [(ce.STORAGE_OBJECT_DATA, StorageObjectData), (ce.MESSAGE_PUBLISHED_DATA, MessagePublishedData)],
)
def test_our_schemas_list_every_field_of_the_official_types_with_its_kind_and_json_name(our_message, official):
    assert _our_schema(our_message) == _official_schema(official.pb().DESCRIPTOR)


# Shaped like googleapis/google-cloudevents testdata/google/events/cloud/storage/v1/StorageObjectData-complex.json
# (int64 as JSON numbers, every field) and StorageObjectDataWorkflows-simple.json (int64 as strings).
STORAGE_COMPLEX = {
    "bucket": "b", "cacheControl": "no-cache", "componentCount": 3, "contentDisposition": "inline",
    "contentEncoding": "gzip", "contentLanguage": "en", "contentType": "application/gzip", "crc32c": "AAAAAA==",
    "customerEncryption": {"keySha256": "k", "encryptionAlgorithm": "AES256"}, "etag": "CAE=",
    "eventBasedHold": True, "generation": 96883251, "id": "b/packages/p.tar.gz/96883251", "kind": "storage#object",
    "kmsKeyName": "kms", "md5Hash": "kF8MuJ5+CTJxvyhHS1xzRg==", "mediaLink": "https://example.invalid/m",
    "metadata": {}, "metageneration": 1, "name": "packages/p.tar.gz",
    "retentionExpirationTime": "1960-08-15T07:40:17.432Z", "selfLink": "https://example.invalid/s", "size": 0,
    "storageClass": "MULTI_REGIONAL", "temporaryHold": False, "timeCreated": "2020-05-06T15:14:15.917Z",
    "timeDeleted": "2020-05-18T09:07:51.799Z", "timeStorageClassUpdated": "1988-10-25T10:29:01.558Z",
    "updated": "1970-09-15T14:05:26.975Z",
}  # fmt: skip
STORAGE_SIMPLE = {
    "bucket": "my-bucket", "contentType": "text/plain", "generation": "1637874272256630", "kind": "storage#object",
    "md5Hash": "jd2L5LF5pSmvpfL/rkuYWA==", "metageneration": "1", "name": "my-file.txt", "size": "13",
    "timeCreated": "2021-11-25T21:04:32.279Z", "metadata": {"uploader": "alice"},
}  # fmt: skip
STORAGE_VARIANTS = [
    STORAGE_COMPLEX,
    STORAGE_SIMPLE,
    {"bucket": "b", "name": "n", "generation": 7},  # every optional field missing
    {
        "bucket": "b",
        "name": "n",
        "generation": "7",
        "md5_hash": "h",
        "content_type": "t",
        "time_created": "2021-11-25T21:04:32Z",
        "component_count": "2",
        "customer_encryption": {"key_sha256": "k"},
    },  # snake_case
    {**STORAGE_SIMPLE, "timeCreated": "2021-11-25T22:04:32.123456789+01:00", "size": 13.0, "generation": "1e3"},
    {**STORAGE_SIMPLE, "time_created": "2001-01-01T00:00:00Z", "timeCreated": None},  # null clears, last key wins
    {**STORAGE_SIMPLE, "contentType": "a", "content_type": "b", "newField": {"x": [1]}, "@type": "t"},
    {**STORAGE_SIMPLE, "customerEncryption": "", "retentionExpirationTime": "2020-1-2T3:4:5Z"},
    {**STORAGE_SIMPLE, "customerEncryption": ["x", "keysha256"]},  # protobuf reads a list as keys: none known
]
STORAGE_REFUSED = [
    {**STORAGE_SIMPLE, "generation": "0"}, {**STORAGE_SIMPLE, "generation": "-5"}, {**STORAGE_SIMPLE, "bucket": ""},
    {k: v for k, v in STORAGE_SIMPLE.items() if k != "name"}, {**STORAGE_SIMPLE, "generation": " 5"},
    {**STORAGE_SIMPLE, "generation": "9" * 40}, {**STORAGE_SIMPLE, "size": 1.5}, {**STORAGE_SIMPLE, "size": True},
    {**STORAGE_SIMPLE, "name": 5}, {**STORAGE_SIMPLE, "metadata": {"a": 1}}, {**STORAGE_SIMPLE, "metadata": []},
    {**STORAGE_SIMPLE, "timeCreated": "2021-11-25 21:04:32Z"},
    {**STORAGE_SIMPLE, "timeCreated": "2021-11-25t21:04:32Z"},
    {**STORAGE_SIMPLE, "timeCreated": "2021-11-25T21:04:32+0100"}, {**STORAGE_SIMPLE, "timeCreated": 1637874272},
    {**STORAGE_SIMPLE, "temporaryHold": "true"}, {**STORAGE_SIMPLE, "componentCount": 2**31},
    {**STORAGE_SIMPLE, "customerEncryption": ["keySha256"]},
    {**STORAGE_SIMPLE, "customerEncryption": ["[x]"]}, {**STORAGE_SIMPLE, "[ext]": 1},
    {**STORAGE_SIMPLE, "name": "\ud800"}, [], "text", 7,
]  # fmt: skip


@pytest.mark.parametrize("data", STORAGE_VARIANTS, ids=range(len(STORAGE_VARIANTS)))
def test_storage_data_in_every_official_shape_reads_the_same_values_as_google_events(data):
    assert isinstance(assert_same_storage(data), ce.StoredObject)
    assert isinstance(assert_same_storage(json.dumps(data).encode()), ce.StoredObject)  # raw JSON text too


@pytest.mark.parametrize("data", STORAGE_REFUSED, ids=range(len(STORAGE_REFUSED)))
def test_storage_data_google_events_refuses_is_refused(data):
    assert assert_same_storage(data) == "refused"


# Shaped like testdata/google/events/cloud/pubsub/v1/MessagePublishedData-{text,binary,duplicatedFields}.json
PUBSUB_TEXT = {
    "subscription": "projects/my-project/subscriptions/my-subscription",
    "message": {"@type": "type.googleapis.com/google.pubsub.v1.PubsubMessage", "attributes": {"attr1": "v"},
                "data": "dGVzdCBtZXNzYWdlIDM=", "messageId": "message-id", "publishTime": "2021-02-05T04:06:14.109Z"},
}  # fmt: skip
PUBSUB_VARIANTS = [
    PUBSUB_TEXT,
    {"subscription": "projects/p/subscriptions/s", "message": {"data": "AQIDBA==", "messageId": "m"}},  # binary
    {"message": {"data": "AQIDBA==", "messageId": "m", "message_id": "m", "publishTime": "2021-02-05T04:06:14.109Z",
                 "publish_time": "2021-02-05T04:06:14.109Z"}},  # duplicatedFields: both names
    {"message": {"messageId": "a", "message_id": "b", "orderingKey": "k", "ordering_key": None}},  # last wins
    {"message": {"messageId": "m", "data": None, "attributes": None}, "deliveryAttempt": "3"},
    {"message": {"messageId": "m", "data": "-_-_", "publishTime": "2021-02-05T04:06:14.1234567-05:30"}},
    {"message": {"messageId": "m", "data": "e30"}, "delivery_attempt": 2, "unknown": [None]},
]  # fmt: skip
PUBSUB_REFUSED = [
    {"message": {}}, {"message": None}, {"message": "messageId"}, {"message": {"data": "e30=", "messageId": ""}},
    {"message": {"data": "%%%", "messageId": "m"}}, {"message": {"data": "e30=x", "messageId": "m"}},
    {"message": {"data": 7, "messageId": "m"}}, {"message": {"messageId": 7}},
    {"message": {"messageId": "m", "attributes": {"a": None}}}, {"message": {"messageId": "m", "publishTime": "x"}},
    {"message": {"messageId": "m"}, "subscription": ["s"]}, {"message": {"messageId": "m"}, "deliveryAttempt": 2**31},
    {"message": ["messageId"]}, {"message": {"messageId": "m"}, "[a.b]": 1}, None, [],
]  # fmt: skip


@pytest.mark.parametrize("data", PUBSUB_VARIANTS, ids=range(len(PUBSUB_VARIANTS)))
def test_pubsub_data_in_every_official_shape_reads_the_same_values_as_google_events(data):
    assert isinstance(assert_same_pubsub(data), ce.PubsubMessage)
    assert isinstance(assert_same_pubsub(json.dumps(data).encode()), ce.PubsubMessage)


@pytest.mark.parametrize("data", PUBSUB_REFUSED, ids=range(len(PUBSUB_REFUSED)))
def test_pubsub_data_google_events_refuses_is_refused(data):
    assert assert_same_pubsub(data) == "refused"


def test_a_key_twice_in_raw_json_text_is_refused_as_protobuf_refuses_it():
    text = b'{"message": {"messageId": "a", "messageId": "b"}}'
    assert assert_same_pubsub(text) == "refused"


# Generated payloads: each field valid, absent, null or junk. Timestamps stay before 2200: google.events
# converts seconds to microseconds through a float, exact only below 2**53 microseconds (about 2255).
_JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
    st.sampled_from(["", " 1", "1_0", "1e3", "2.5", "0x10", "-0", "\t7", "true", "AQ==", "%%", "[x]", "\udc00"]),
    st.lists(st.sampled_from(["a", "name", "messageId", 1]), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip


def _stamps(fractions: list[str], offsets: list[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda moment, fraction, offset: f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S") + fraction + offset,
        st.datetimes(datetime(1, 1, 2), datetime(2199, 12, 30)),
        st.sampled_from(fractions),
        st.sampled_from(offsets),
    )


_STAMPS = st.one_of(
    _stamps(["", ".1", ".123456", ".123456789", "."], ["Z", "+01:00", "-05:30", "+00:00", "-00:45"]),
    _stamps(["", ".1234567891", ".x", ".1_2"], ["Z", "z", "+0100", "Zx", "", "+1:5", "-x:00"]),
)
_VALID = {
    STRING: st.text(max_size=5), INT64: st.one_of(st.integers(-(2**64), 2**64), st.integers(-5, 10**17).map(str)),
    INT32: st.integers(-(2**32), 2**32), BOOL: st.booleans(), TIMESTAMP: _STAMPS,
    STRING_MAP: st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    BYTES: st.binary(max_size=6).map(lambda b: base64.b64encode(b).decode()),
}  # fmt: skip


def _payloads(message: Message) -> st.SearchStrategy[dict[str, Any]]:
    entries = []
    for key, name in message.keys.items():
        kind = message.fields[name]
        valid = _payloads(kind) if isinstance(kind, Message) else _VALID[kind]
        # Mostly valid values: one junk field already refuses the whole payload.
        value = st.integers(0, 9).flatmap(lambda roll, valid=valid: _JUNK if roll == 0 else valid)
        entries.append(st.tuples(st.just(key), value))
    return st.lists(st.sampled_from(entries).flatmap(lambda entry: entry), max_size=8).map(dict)


@settings(max_examples=500, deadline=None)
@given(_payloads(ce.STORAGE_OBJECT_DATA), st.sampled_from(["b", "b", ""]), st.sampled_from([1, "2", 0, -1]))
def test_generated_storage_data_reads_the_same_as_google_events(data, bucket, generation):
    assert_same_storage({"bucket": bucket, "name": "n", "generation": generation, **data})
    assert_same_storage(data)


@settings(max_examples=500, deadline=None)
@given(_payloads(ce.MESSAGE_PUBLISHED_DATA), _payloads(ce.PUBSUB_MESSAGE), st.sampled_from(["m", "m", "", None]))
def test_generated_pubsub_data_reads_the_same_as_google_events(published, message, message_id):
    assert_same_pubsub({**published, "message": {"messageId": message_id, **message}})
    assert_same_pubsub(published)


def test_a_message_named_twice_by_both_names_is_merged_as_protobuf_merges_it():
    data = {"customerEncryption": {"keySha256": "k", "encryptionAlgorithm": "a"}, "customer_encryption": {
        "encryption_algorithm": "b"}}  # fmt: skip
    official = StorageObjectData.from_json(json.dumps(data)).customer_encryption
    ours_ = proto_json.parse(ce.STORAGE_OBJECT_DATA, data)["customer_encryption"]
    assert ours_ == {"key_sha256": official.key_sha256, "encryption_algorithm": official.encryption_algorithm}


def test_timestamps_read_as_aware_utc_datetimes_with_microseconds():
    data = {**STORAGE_SIMPLE, "timeCreated": "2021-11-25T22:04:32.123456789+01:00"}
    created = ours(ce.parse_storage_object, ce.STORAGE_FINALIZED, data).time_created
    assert created == datetime(2021, 11, 25, 21, 4, 32, 123456, tzinfo=timezone.utc)
