"""A local cloud whose three functions are recording stand-ins (tests/local/fixtures/recorder.py).

It tests the cloud itself — storage, Pub/Sub, Eventarc delivery, Slack — independently of the real
functions and of the Vertex stand-in, which have their own tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from deploy.spec import FUNCTIONS
from local.services.cloud import LocalCloud
from shared.polling import poll

RECORDER = "tests/local/fixtures/recorder.py"
RECORDING_SERVICES = ("pubsub", "gcs", "mongo", "slack", "functions", "eventarc")
T = TypeVar("T")


@pytest.fixture(scope="package")
def recorder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recorded")


@pytest.fixture(scope="package")
def recording_cloud(tmp_path_factory: pytest.TempPathFactory, recorder_dir: Path) -> Iterator[LocalCloud]:
    cloud = LocalCloud(
        tmp_path_factory.mktemp("recording-cloud"),
        services=RECORDING_SERVICES,
        function_sources={spec.name: RECORDER for spec in FUNCTIONS},
        function_env={"RECORDER_DIR": str(recorder_dir)},
    )
    with cloud:
        yield cloud


Received = Callable[[str, str, str], list[dict[str, Any]]]


@pytest.fixture
def received(recorder_dir: Path) -> Received:
    """`received(target, key, value)`: the CloudEvents a recorder target got so far whose data (or
    Pub/Sub message attributes) has `key == value`, each as {"attributes": ..., "data": ...}."""

    def matching(target: str, key: str, value: str) -> list[dict[str, Any]]:
        path = recorder_dir / f"{target}.jsonl"
        events = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return [
            event
            for event in events
            if event["data"].get(key) == value
            or ((event["data"].get("message") or {}).get("attributes") or {}).get(key) == value
        ]

    return matching


def _wait_for(probe: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
    return poll(probe, timeout=timeout, what=what)


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """`wait_for(probe, timeout=10, what=...)`: poll until `probe()` is truthy; return its value."""
    return _wait_for
