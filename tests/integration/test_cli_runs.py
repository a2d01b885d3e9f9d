"""`flexrun run --wait`, `flexrun schedule tick`, `flexrun jobs list|cancel` against the local cloud.

The CLI runs as a user runs it: its own process, pointed at the local cloud by its env file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cli.schedule import load_schedule
from local.demo import chain
from local.services.cloud import REPO_ROOT, LocalCloud
from shared.polling import poll
from shared.stores.mongo_store import MongoRunStore

pytestmark = pytest.mark.integration
TRAINER_VERSION = tomllib.loads((REPO_ROOT / "trainer/pyproject.toml").read_text())["project"]["version"]


def flexrun(cloud: LocalCloud, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLEXRUN_ENV_FILE": str(cloud.state_dir / "env")}
    return subprocess.run([sys.executable, "-m", "cli", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


@pytest.fixture(scope="module")
def deployable(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A validated trainer package in the manifest (the chain test may have uploaded it already)."""
    manifest = chain.read_manifest(local_cloud) or {"entries": []}
    if not any(e["status"] == "validated" and e["version"] == TRAINER_VERSION for e in manifest["entries"]):
        package = chain.build_trainer_package(tmp_path_factory.mktemp("dist"))
        chain.wait_for_manifest_entry(local_cloud, chain.upload_package(local_cloud, package))
    return TRAINER_VERSION


def test_run_with_wait_follows_the_run_to_success(local_cloud: LocalCloud, deployable: str):
    result = flexrun(local_cloud, "run", "--gpu", "L4", "--max-wait", "10m", "--timeout", "30m", "--version",
                     deployable, "--run-key", "it-cli-run", "--arg=--epochs", "--arg=1", "--arg=--symbols",
                     "--arg=SPX", "--wait", "--wait-timeout", "300")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]  # one paragraph; "--gpu L4" went out as "gpu": "L4"
    assert summary.startswith("Run it-cli-run succeeded on attempt 1: 1x NVIDIA_L4 in "), summary
    assert "estimated GPU cost " in summary and "predictions stored" in summary
    assert "succeeded" in result.stderr  # the live status line


def test_schedule_tick_starts_the_scheduled_run_and_jobs_cancel_by_job_id_stops_it(
    local_cloud: LocalCloud, deployable: str
):
    name = load_schedule().name
    assert flexrun(local_cloud, "schedule", "tick").returncode == 0
    store = MongoRunStore(chain.runs_collection(local_cloud).database)

    def scheduled_job() -> dict | None:
        found = chain.runs_collection(local_cloud).find_one(
            {"trigger": "schedule", "job_name": {"$exists": True}}, {"_id": 0, "run_key": 1, "job_name": 1}
        )
        return found if found and str(found.get("job_name", "")).startswith("projects/") else None

    record = poll(scheduled_job, timeout=60, what="the scheduled run's job", interval=0.25)
    run_key = record["run_key"]
    assert run_key.startswith(f"{name}-")

    listed = flexrun(local_cloud, "jobs", "list")
    assert listed.returncode == 0 and run_key in listed.stdout

    job_id = record["job_name"].rsplit("/", 1)[-1]  # the first column of `jobs list`
    cancelled = flexrun(local_cloud, "jobs", "cancel", job_id)
    assert cancelled.returncode == 0, cancelled.stderr[-2000:]
    final = poll(
        what="the cancelled run to be recorded",
        interval=0.25,
        probe=lambda: (r := store.get(run_key)) and r.state == "cancelled" and r.announced and r or None,
        timeout=120,
    )
    assert final.trigger == "schedule"
    assert flexrun(local_cloud, "jobs", "cancel", run_key).returncode != 0  # nothing left to cancel


def test_unknown_gpu_is_refused_by_the_function_not_silently_run(local_cloud: LocalCloud, tmp_path: Path):
    result = flexrun(local_cloud, "run", "--gpu", "NVIDIA_IMAGINARY", "--run-key", "it-cli-bad-gpu")
    assert result.returncode == 0  # publishing succeeds; the submit function refuses and records it
    rejected = chain.runs_collection(local_cloud).database["rejected_events"]
    found = poll(lambda: rejected.find_one({"function": "submit-run", "error": {"$regex": "IMAGINARY"}}),
                 timeout=60, what="the refusal to be recorded", interval=0.25)  # fmt: skip
    assert "NVIDIA_IMAGINARY" in found["error"]
