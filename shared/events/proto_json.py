"""Proto3 JSON → Python values, for the two message shapes of the CloudEvent data flexrun reads.

Not protobuf's json_format (through google.events' `from_json`): proto-plus + protobuf cost ~40 ms of
import on every function's first event, for two small flat messages. This follows protobuf's Python
JSON parser (google/protobuf/json_format.py, as `from_json(..., ignore_unknown_fields=True)` runs it)
for the field kinds those messages have, its quirks included, so an event is accepted or refused as
before: JSON names (lowerCamel) and the original snake_case names both name a field, the later key
wins, `null` clears a field, int64 arrives as a JSON string or number, timestamps are RFC 3339, unknown
fields are ignored. tests/unit/test_event_parsing_matches_google_events.py parses the same payloads both
ways (and checks these schemas against google.events' own descriptors).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Union

STRING, BYTES, INT32, INT64, BOOL = "string", "bytes", "int32", "int64", "bool"
TIMESTAMP, STRING_MAP = "google.protobuf.Timestamp", "map<string, string>"
Kind = Union[str, "Message"]

# protobuf refuses a key shaped like an extension ("[a.b]") even when it ignores unknown fields.
_EXTENSION = re.compile(r"\[[a-zA-Z0-9._]*\]$")
_UNPAIRED_SURROGATE = re.compile("[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]")
_BASE64 = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")
_INT_BITS = {INT32: 32, INT64: 64}
# google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z
_TIMESTAMP_SECONDS = (-62135596800, 253402300799)
_EPOCH = datetime(1970, 1, 1)


class ProtoJsonError(ValueError):
    """The JSON does not fit the message; the text names the field (by its JSON path) and why."""


def _shown(value: Any) -> str:
    # Poison events carry megabyte fields: an error quotes only the start of a value.
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def json_name(name: str) -> str:
    """protoc's JSON name of a field: underscores dropped, the letter after each one upper-cased."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@dataclass(frozen=True)
class Message:
    name: str
    fields: dict[str, Kind]  # proto (snake_case) field name → its kind
    keys: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = {name: name for name in self.fields}
        keys.update({json_name(name): name for name in self.fields})  # protobuf tries the JSON name first
        object.__setattr__(self, "keys", keys)


def loads(text: str) -> Any:
    """JSON text as protobuf's `Parse` reads it: a key twice in one object is refused."""
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        raise ProtoJsonError(f"Failed to load JSON: {exc}") from None


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse(message: Message, value: Any, path: str = "", into: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fields set in `value`, by proto name; a field left out (or null) is absent, meaning its default.

    Errors name the field by its JSON path from the top ("message.data"), the top by the message's name.
    """
    values = {} if into is None else into
    where = path or message.name
    if isinstance(value, (str, list)):
        # protobuf iterates a string or list as if it were an object's keys: none of them may name a field.
        if any(not isinstance(key, str) or key in message.keys or _EXTENSION.match(key) for key in value):
            raise ProtoJsonError(f"{where} is not a JSON object")
        return values
    if not isinstance(value, dict):
        raise ProtoJsonError(f"{where} is not a JSON object: {type(value).__name__}")
    for key, item in value.items():
        name = message.keys.get(key)
        if name is None:
            if _EXTENSION.match(key):
                raise ProtoJsonError(f"{where}: {message.name} has no extensions ({key})")
            continue
        if item is None:
            values.pop(name, None)
            continue
        kind, field_path = message.fields[name], f"{path}.{key}" if path else key
        if isinstance(kind, Message):  # a message set twice is merged, as protobuf merges it
            values[name] = parse(kind, item, field_path, values.get(name, {}))
        else:
            values[name] = _scalar(kind, item, field_path)
    return values


def _scalar(kind: str, value: Any, path: str) -> Any:
    if kind == STRING:
        return _string(value, path)
    if kind in _INT_BITS:
        return _integer(value, _INT_BITS[kind], path)
    if kind == BOOL:
        if not isinstance(value, bool):
            raise ProtoJsonError(f"{path}: expected true or false without quotes")
        return value
    if kind == BYTES:
        return _bytes(value, path)
    if kind == TIMESTAMP:
        return _timestamp(value, path)
    if kind == STRING_MAP:
        if not isinstance(value, dict):
            raise ProtoJsonError(f"{path}: a map must be a JSON object")
        return {_string(k, f"{path}.key"): _string(v, f"{path}[{k}]") for k, v in value.items()}
    raise AssertionError(f"unknown field kind {kind}")


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ProtoJsonError(f"{path}: expected a string, got {type(value).__name__}")
    if _UNPAIRED_SURROGATE.search(value):
        raise ProtoJsonError(f"{path}: unpaired surrogate")
    return value


def _integer(value: Any, bits: int, path: str) -> int:
    """A JSON number or string: `int()`'s syntax (no spaces), or an integral float such as "1e3"."""
    refused = ProtoJsonError(f"{path}: couldn't parse integer {_shown(value)}")
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise refused
    if isinstance(value, str) and " " in value:
        raise refused
    try:
        number = int(value)
    except ValueError:
        try:
            number_float = float(value)
        except ValueError:
            raise refused from None
        if not number_float.is_integer():
            raise refused from None
        number = int(number_float)
    except TypeError:
        raise refused from None
    if not -(1 << (bits - 1)) <= number < 1 << (bits - 1):
        raise ProtoJsonError(f"{path}: value out of range: {number}")
    return number


def _bytes(value: Any, path: str) -> bytes:
    """Base64 as proto3 JSON defines it (standard or URL-safe, padding optional), strictly.

    protobuf's parser drops characters outside the alphabet, so `"%%%"` or `"####===="` would decode to
    empty data, which is a valid run request ("run with defaults"): a malformed message must never be one.
    """
    refused = ProtoJsonError(f"{path} is not base64")
    if not isinstance(value, str) or not _BASE64.fullmatch(value):
        raise refused
    text = value.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise refused from None


def _timestamp(value: Any, path: str) -> datetime:
    """RFC 3339 as google.protobuf.Timestamp reads it, as an aware UTC datetime (nanoseconds truncated)."""
    if not isinstance(value, str):
        raise ProtoJsonError(f"{path}: a timestamp must be a string")
    # The offset starts at the first "Z", else the first "+", else the last "-".
    at = value.find("Z")
    at = value.find("+") if at == -1 else at
    at = value.rfind("-") if at == -1 else at
    if at == -1:
        raise ProtoJsonError(f"{path}: timestamp {_shown(value)} has no timezone offset")
    clock, _, fraction = value[:at].partition(".")
    try:
        if "t" in clock:
            raise ValueError("lowercase 't' is not accepted")
        elapsed = datetime.strptime(clock, "%Y-%m-%dT%H:%M:%S") - _EPOCH
        seconds = elapsed.days * 86400 + elapsed.seconds
        if len(fraction) > 9:
            raise ValueError("more than 9 fractional digits")
        nanos = round(float("0." + fraction) * 1e9) if fraction else 0
        if value[at] == "Z":
            if len(value) != at + 1:
                raise ValueError("trailing data after Z")
        else:
            offset = value[at:]
            colon = offset.find(":")
            if colon == -1:
                raise ValueError(f"invalid timezone offset {offset}")
            minutes = int(offset[1:colon]) * 60 + int(offset[colon + 1 :])
            seconds += -minutes * 60 if offset[0] == "+" else minutes * 60
    except ValueError as exc:
        raise ProtoJsonError(f"{path}: timestamp {_shown(value)}: {exc}") from None
    if not _TIMESTAMP_SECONDS[0] <= seconds <= _TIMESTAMP_SECONDS[1] or not 0 <= nanos < 10**9:
        raise ProtoJsonError(f"{path}: timestamp {_shown(value)} is out of range")
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds, microseconds=nanos // 1000)
