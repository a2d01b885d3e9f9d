"""`flexrun doctor` against the local cloud: each ✗ names what keeps runs from happening, with its fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from local.services.cloud import REPO_ROOT, LocalCloud
from local.standins.projectapis import admin

pytestmark = pytest.mark.integration

CHAIN = "L4@us-east4:FLEX_START, L4@us-central1:FLEX_START"
L4_DWS = "aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_l4_gpus"
FUNCTIONS_SA = "serviceAccount:flexrun-functions@local-project.iam.gserviceaccount.com"


@pytest.fixture()
def project_apis(local_cloud: LocalCloud) -> Iterator[str]:
    """The stand-in's URL; whatever a test takes away is given back afterwards."""
    url = local_cloud.endpoints["projectapis"]
    saved = admin.state(url)
    try:
        yield url
    finally:
        admin.update(url, **saved)


def doctor(cloud: LocalCloud, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLEXRUN_FALLBACK_CHAIN": CHAIN}
    command = [sys.executable, "-m", "cli", "doctor", "--env-file", str(cloud.state_dir / "env"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120)


def lines_with(output: str, text: str) -> list[str]:
    lines = output.splitlines()
    return [f"{line}\n{lines[i + 1]}" for i, line in enumerate(lines) if text in line and i + 1 < len(lines)]


def test_a_fresh_local_cloud_passes_every_check(local_cloud: LocalCloud, project_apis: str):
    result = doctor(local_cloud)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✗" not in result.stdout and "every check passed" in result.stdout


def test_zero_preemptible_l4_quota_in_one_region_names_that_step_with_its_fix(
    local_cloud: LocalCloud, project_apis: str
):
    admin.set_quota(project_apis, L4_DWS, "us-east4", 0)
    result = doctor(local_cloud)

    assert result.returncode == 1
    (blocked,) = lines_with(result.stdout, "✗ step 1 1x L4 @ us-east4 FLEX_START")
    assert "preemptible L4 quota in us-east4: 0, needs 1" in blocked
    assert "fix: request it at https://console.cloud.google.com/iam-admin/quotas?project=local-project" in blocked
    assert "gcloud quotas preferences create" in result.stdout and "--dimensions=region=us-east4" in result.stdout
    assert "✓ step 2 1x L4 @ us-central1 FLEX_START: preemptible L4 quota in us-central1: 16" in result.stdout
    assert "1 step(s) can never run: step 1 1x L4 @ us-east4 FLEX_START" in result.stdout

    report = json.loads(doctor(local_cloud, "--json").stdout)
    assert report["ok"] is False and report["blocked_steps"] == ["step 1 1x L4 @ us-east4 FLEX_START"]


def test_a_missing_api_a_missing_role_and_a_missing_secret_each_get_their_fixing_command(
    local_cloud: LocalCloud, project_apis: str
):
    admin.disable_service(project_apis, "cloudscheduler.googleapis.com")
    admin.revoke(project_apis, FUNCTIONS_SA, "roles/secretmanager.secretAccessor")
    admin.delete_secret(project_apis, "flexrun-mongodb-url")
    result = doctor(local_cloud)
    out = result.stdout

    assert result.returncode == 1
    (api,) = lines_with(out, "✗ cloudscheduler.googleapis.com")
    assert "fix: gcloud services enable cloudscheduler.googleapis.com --project=local-project" in api
    (secret,) = lines_with(out, "✗ secret flexrun-mongodb-url: missing")
    assert "gcloud secrets create flexrun-mongodb-url --data-file=- --project=local-project" in secret
    roles = lines_with(out, "on secret flexrun-slack-webhook-url: lacks secretmanager.versions.access")
    assert (
        roles
        and (
            "fix: gcloud secrets add-iam-policy-binding flexrun-slack-webhook-url --project=local-project "
            f"--member={FUNCTIONS_SA} --role=roles/secretmanager.secretAccessor"
        )
        in roles[0]
    )
    # The disabled Scheduler API also keeps the job from being read: that line says how to enable it.
    assert (
        "fix: gcloud services enable cloudscheduler.googleapis.com --project=local-project"
        in (lines_with(out, "✗ scheduler job flexrun-nightly")[0])
    )
