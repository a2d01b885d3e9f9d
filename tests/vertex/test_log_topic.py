"""With `--log-topic`, job log entries reach Pub/Sub as a Cloud Logging sink would deliver them.

Needs Google's Pub/Sub emulator (Cloud SDK component); skipped where it is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.polling import poll
from tests.vertex.conftest import PROJECT, free_port, start_vertex, stop_process
from tests.vertex.jobs import custom_job, job_id, submit, wait_for

pytestmark = pytest.mark.integration
TOPIC = "job-events"


def _emulator_binary() -> Path | None:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    root = subprocess.run(
        [gcloud, "info", "--format=value(installation.sdk_root)"], capture_output=True, text=True
    ).stdout.strip()
    binary = Path(root) / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
    return binary if root and binary.exists() else None


@pytest.fixture
def pubsub_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    binary = _emulator_binary()
    if binary is None:
        pytest.skip("Pub/Sub emulator not installed (gcloud components install pubsub-emulator)")
    port = free_port()
    host = f"127.0.0.1:{port}"
    with open(tmp_path / "pubsub.log", "w") as log:
        process = subprocess.Popen([str(binary), "--host=127.0.0.1", f"--port={port}"], stdout=log, stderr=log)
    try:
        poll(
            lambda: process.poll() is not None or "Server started" in (tmp_path / "pubsub.log").read_text(),
            timeout=30,
            what="the Pub/Sub emulator",
        )
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
        yield host
    finally:
        stop_process(process)


def test_log_entries_are_published_to_the_log_topic(
    gcs: str, env_cache: Path, tmp_path: Path, pubsub_host: str
) -> None:
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.create_topic(name=f"projects/{PROJECT}/topics/{TOPIC}").name
    subscription = subscriber.create_subscription(name=f"projects/{PROJECT}/subscriptions/sink", topic=topic).name
    state = tmp_path / "state"
    state.mkdir()
    vertex = start_vertex(state, env_cache, gcs, "--log-topic", TOPIC, env={"PUBSUB_EMULATOR_HOST": pubsub_host})
    try:
        client = vertex.client()
        done = wait_for(client, submit(client, custom_job()).name, timeout=60)

        def pulled_all() -> list[dict[str, object]]:
            received = subscriber.pull(subscription=subscription, max_messages=50, timeout=5).received_messages
            entries.extend(json.loads(m.message.data) for m in received)
            if received:
                subscriber.acknowledge(subscription=subscription, ack_ids=[m.ack_id for m in received])
            return [e for e in entries if e["textPayload"] == "Job completed successfully."]

        entries: list[dict[str, object]] = []
        poll(pulled_all, timeout=20, what="the success entry on Pub/Sub")
    finally:
        stop_process(vertex.process)

    assert {e["resource"]["labels"]["job_id"] for e in entries} == {job_id(done)}  # type: ignore[index]
    assert len(entries) == len(vertex.log_entries(job_id(done)))
