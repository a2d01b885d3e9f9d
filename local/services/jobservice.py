"""Vertex AI: start the local JobService (the `local.standins.vertex` package) as its own process."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from deploy.topology import JOB_EVENTS_TOPIC, PROJECT_ID, REGION
from local.services.processes import ManagedProcess, free_port, http_probe
from shared.config.settings import Settings
from shared.jobs.images import trainer_image_uri

# Free DWS capacity per GPU type: one of each, so a second concurrent job of a type waits.
CAPACITY = ("NVIDIA_L4=1", "NVIDIA_TESLA_A100=1", "NVIDIA_H100_80GB=1", "NVIDIA_TESLA_T4=1")


def available(repo_root: Path) -> bool:
    """Whether the Vertex stand-in is present in this checkout (it is built alongside)."""
    return (repo_root / "local" / "standins" / "vertex" / "__main__.py").is_file()


def trainer_image() -> str:
    """The URI submit-run's default names for the local project: the image "pushed" from image/."""
    repository = Settings.model_fields["flexrun_image_repository"].default
    return trainer_image_uri(PROJECT_ID, REGION, repository)


def start_vertex(
    state_dir: Path,
    repo_root: Path,
    storage_endpoint: str,
    pubsub_host: str,
    extra_env: Mapping[str, str] = {},
    end_delay_seconds: float = 3.0,
) -> tuple[ManagedProcess, str]:
    """Start the JobService on a free port; returns it and its VERTEX_AI_API_ENDPOINT."""
    port = free_port()
    argv = [
        sys.executable, "-m", "local.standins.vertex",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--state-dir", str(state_dir / "vertex"),
        "--executor-python", str(repo_root / ".venv-executor" / "bin" / "python"),
        "--env-cache", str(repo_root / ".cache" / "vertex-envs"),  # shared across runs: installs are slow
        "--project", PROJECT_ID,
        "--log-topic", JOB_EVENTS_TOPIC,
        *(arg for capacity in CAPACITY for arg in ("--capacity", capacity)),
        "--provision-seconds", "1",
        "--end-delay-seconds", str(end_delay_seconds),
        "--image", trainer_image(),
    ]  # fmt: skip
    env = {
        **os.environ,
        **extra_env,
        "STORAGE_EMULATOR_HOST": storage_endpoint,
        "PUBSUB_EMULATOR_HOST": pubsub_host,
        "PYTHONPATH": str(repo_root),
    }
    url = f"http://127.0.0.1:{port}"
    # A longer grace: on SIGTERM the JobService ends its running replicas (own sessions, 3 s grace
    # each) before exiting; a SIGKILL before then would orphan them.
    process = ManagedProcess(name="vertex", argv=argv, state_dir=state_dir, env=env, cwd=repo_root, stop_grace=30.0)
    process.start(http_probe(f"{url}/healthz"), timeout=60)
    return process, url
