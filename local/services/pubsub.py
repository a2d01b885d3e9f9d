"""Pub/Sub: Google's own emulator (shipped with the Cloud CLI), plus the topics and subscriptions."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from deploy.spec import FunctionSpec
from local.services.clients import publisher_client, subscriber_client
from local.services.processes import ManagedProcess, free_port, http_probe

INSTALL_HINT = "gcloud components install pubsub-emulator"


def emulator_binary() -> Path:
    """Locate `cloud-pubsub-emulator` inside the Cloud SDK; fail with how to install it."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise RuntimeError(
            "the Pub/Sub emulator needs the Google Cloud CLI (gcloud), which is not on PATH; "
            f"install it, then run `{INSTALL_HINT}`"
        )
    sdk_root = subprocess.run(
        [gcloud, "info", "--format=value(installation.sdk_root)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    binary = Path(sdk_root) / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
    if not binary.is_file():
        raise RuntimeError(f"the Pub/Sub emulator is not installed ({binary} is missing): run `{INSTALL_HINT}`")
    return binary


def start_pubsub(state_dir: Path) -> tuple[ManagedProcess, str]:
    """Start the emulator on a free port; returns the process and its PUBSUB_EMULATOR_HOST value."""
    port = free_port()
    # The emulator has no --data-dir flag: its state lives in memory and dies with the process.
    process = ManagedProcess(
        name="pubsub",
        argv=[str(emulator_binary()), "--host=127.0.0.1", f"--port={port}"],
        state_dir=state_dir,
    )
    # A TCP connect succeeds before the JVM serves requests; its REST root answers "Ok" when ready.
    process.start(http_probe(f"http://127.0.0.1:{port}/"), timeout=60)
    return process, f"127.0.0.1:{port}"


def create_topology(emulator_host: str, project: str, topics: Iterable[str], functions: Iterable[FunctionSpec]) -> None:
    """Create every topic and one pull subscription per function (what its Eventarc trigger reads)."""
    publisher = publisher_client(emulator_host)
    subscriber = subscriber_client(emulator_host)
    try:
        for topic in topics:
            publisher.create_topic(name=publisher.topic_path(project, topic))
        for spec in functions:
            subscriber.create_subscription(
                name=subscriber.subscription_path(project, spec.subscription),
                topic=publisher.topic_path(project, spec.topic),
                # Eventarc's push subscriptions wait as long as the function may run; the bridge
                # nacks a failed delivery itself, after its backoff.
                ack_deadline_seconds=600,
            )
    finally:
        subscriber.close()
        publisher.transport.close()


BACKLOG_FILE = "pubsub-backlog.jsonl"


def save_backlog(emulator_host: str, project: str, functions: Iterable[FunctionSpec], state_dir: Path) -> int:
    """Pull every message still waiting in a subscription into `pubsub-backlog.jsonl` (not acked:
    the emulator is about to stop); `republish_backlog` gives them back to a new emulator.

    The emulator keeps messages only in memory, where Pub/Sub keeps them for the subscription's
    retention (Eventarc's: 24 h), so a local `down` + `up` must not lose them.
    """
    subscriber = subscriber_client(emulator_host)
    saved = 0
    try:
        with (state_dir / BACKLOG_FILE).open("a") as backlog:
            for spec in functions:
                path = subscriber.subscription_path(project, spec.subscription)
                seen: set[str] = set()
                empty = 0
                while empty < 3:  # a pull may answer empty while messages wait: three in a row mean none
                    response = subscriber.pull(subscription=path, max_messages=100, timeout=2)
                    fresh = [r for r in response.received_messages if r.message.message_id not in seen]
                    empty = 0 if fresh else empty + 1
                    for received in fresh:
                        seen.add(received.message.message_id)
                        message = received.message
                        entry = {"topic": spec.topic, "data": base64.b64encode(message.data).decode(),
                                 "attributes": dict(message.attributes)}  # fmt: skip
                        backlog.write(json.dumps(entry) + "\n")
                        saved += 1
    finally:
        subscriber.close()
    return saved


def republish_backlog(emulator_host: str, project: str, state_dir: Path) -> int:
    """Publish what `save_backlog` kept to its topics again (new message ids: delivery is at least
    once, and every function is idempotent), then forget the file."""
    path = state_dir / BACKLOG_FILE
    if not path.exists():
        return 0
    publisher = publisher_client(emulator_host)
    try:
        futures = []
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            topic = publisher.topic_path(project, entry["topic"])
            futures.append(publisher.publish(topic, base64.b64decode(entry["data"]), **entry["attributes"]))
        for future in futures:
            future.result(timeout=30)
    finally:
        publisher.transport.close()
    path.unlink()
    return len(futures)
