"""Poison input: a seeded corpus of broken events to each function → acknowledged or refused, never a
5xx (which would make Eventarc retry it forever), one warning line per rejected event, no crash.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from deploy import topology
from tests.chaos import kit
from tests.chaos.kit import Chaos

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

CASES_PER_FUNCTION = 520
TYPES = {"validate-package": topology.STORAGE_FINALIZED, "submit-run": topology.PUBSUB_PUBLISHED,
         "job-state": topology.PUBSUB_PUBLISHED}  # fmt: skip


def _junk(rng: random.Random) -> Any:
    return rng.choice([None, 7, -1, 3.5, True, "", "x" * rng.randint(1, 50), [], [1, "a"], {"k": [None]}])


def _headers(event_type: str, event_id: str) -> dict[str, str]:
    return {"ce-id": event_id, "ce-source": "//chaos", "ce-type": event_type, "ce-specversion": "1.0",
            "ce-time": "2026-11-27T10:00:00Z", "content-type": "application/json"}  # fmt: skip


def _envelope(data: Any, rng: random.Random) -> dict[str, Any]:
    # Never empty data: an empty Pub/Sub message is a valid run request ("run with defaults"), not poison.
    return {"message": {"data": data or "%%%", "messageId": uuid.uuid4().hex, "attributes": {"a": "b"}},
            "subscription": "projects/p/subscriptions/s"}  # fmt: skip


def _payload(function: str, rng: random.Random) -> Any:
    """Something that looks like this function's input but is wrong in one way."""
    if function == "validate-package":
        data = {"bucket": topology.PACKAGE_BUCKET, "name": "packages/x.tar.gz", "generation": "1"}
        key = rng.choice(["bucket", "name", "generation", "size", "metadata", "timeCreated"])
        data[key] = rng.choice([_junk(rng), "-5", "../../etc/passwd", "\x00", "9" * 40, {"n": 1}])
        return data
    entry: Any
    if function == "submit-run":
        entry = {
            rng.choice(["gpu", "max_wait", "timeout", "args", "env", "run_key", "nonsense"]): rng.choice(
                ["2h", -1, 10**12, {"type": "NOT_A_GPU"}, [None], "x" * 300, {"a": {"b": 1}}]
            )
        }
        entry["unknown_field_" + uuid.uuid4().hex[:4]] = 1  # never a valid run message: no job is created
    else:
        entry = {"resource": rng.choice([{"type": "ml_job", "labels": {"job_id": rng.choice(["abc", "", "-1", None])}},
                                         {"type": "gce_instance"}, {"labels": [1]}, "x", None]),
                 "textPayload": rng.choice(["customJobs/not-a-number", "", None, 5])}  # fmt: skip
    return _envelope(base64.b64encode(json.dumps(entry).encode()).decode(), rng)


def _case(function: str, rng: random.Random) -> tuple[str, dict[str, str], bytes]:
    event_id = f"poison-{uuid.uuid4().hex}"
    headers = _headers(TYPES[function], event_id)
    kind = rng.choice(["random_bytes", "wrong_types", "huge", "bad_base64", "bad_headers", "unknown_type",
                       "shape"])  # fmt: skip
    if kind == "random_bytes":
        body = rng.randbytes(rng.randint(0, 4096))
    elif kind == "wrong_types":
        body = json.dumps(rng.choice([_junk(rng), _envelope(_junk(rng), rng), {"message": _junk(rng)}])).encode()
    elif kind == "huge":
        blob = "A" * rng.randint(200_000, 1_500_000)
        body = json.dumps(rng.choice([{"name": blob, "bucket": blob}, _envelope(blob + "=", rng)])).encode()
    elif kind == "bad_base64":
        body = json.dumps(_envelope(rng.choice(["%%%", "abc", "####====", "ü"]), rng)).encode()
    elif kind == "bad_headers":
        del headers[rng.choice(["ce-id", "ce-source", "ce-type", "ce-specversion"])]
        headers["ce-specversion"] = rng.choice(["0.1", "9.9", "1.0"]) if "ce-specversion" in headers else "1.0"
        body = json.dumps(_payload(function, rng)).encode()
    elif kind == "unknown_type":
        headers["ce-type"] = rng.choice(["com.example.unknown", "google.cloud.storage.object.v1.deleted",
                                         *TYPES.values()] )  # fmt: skip
        body = json.dumps(_payload(function, rng)).encode()
    else:
        body = json.dumps(_payload(function, rng)).encode()
    if headers.get("ce-type") == TYPES[function] and kind == "unknown_type":
        headers["ce-type"] = "com.example.unknown"
    return event_id, headers, body


@pytest.mark.parametrize("function", ["validate-package", "submit-run", "job-state"])
def test_poison_corpus_is_never_retried_and_never_crashes_the_function(chaos: Chaos, function: str):
    rng = random.Random(f"flexrun-chaos-{function}")
    cases = [_case(function, rng) for _ in range(CASES_PER_FUNCTION)]
    process = chaos.cloud.process(function)
    pid, restarts = process.pid, chaos.cloud.supervisor.restarts.get(process.name, 0)
    url = chaos.url(function)
    jobs_before = kit.job_count(chaos.cloud)
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda case: kit.post(url, headers=case[1], body=case[2]), cases))
    assert kit.job_count(chaos.cloud) == jobs_before, "poison created a job"

    by_status = Counter(statuses)
    assert not [s for s in statuses if s >= 500 or s == 0], f"retryable answers to poison: {by_status}"
    assert process.pid == pid and chaos.cloud.supervisor.restarts.get(process.name, 0) == restarts
    warned = Counter(
        line.get("event_id")
        for line in kit.log_lines(chaos.cloud, function)
        if line.get("severity") in ("WARNING", "ERROR") and str(line.get("event_id", "")).startswith("poison-")
    )
    accepted = [case[0] for case, status in zip(cases, statuses, strict=True) if 200 <= status < 300]
    assert all(warned[event_id] <= 1 for event_id in accepted), "at most one error line per event"
    rejected_by_flexrun = [event_id for event_id in accepted if warned[event_id] == 1]
    assert len(rejected_by_flexrun) >= len(accepted) // 2, (by_status, len(rejected_by_flexrun))
    assert all(line_ok for line_ok in _clear(chaos, function, rejected_by_flexrun))


def _clear(chaos: Chaos, function: str, event_ids: list[str]) -> list[bool]:
    """Each warning names why: a reason code and an error message of its own."""
    wanted = set(event_ids)
    lines = [line for line in kit.log_lines(chaos.cloud, function) if line.get("event_id") in wanted]
    return [bool(line.get("error")) and line.get("severity") == "WARNING" for line in lines
            if line.get("severity") in ("WARNING", "ERROR")]  # fmt: skip
