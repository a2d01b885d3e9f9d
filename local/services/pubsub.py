"""Pub/Sub: Google's own emulator (shipped with the Cloud CLI), plus the topics and subscriptions."""

from __future__ import annotations

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
