"""The demo's doctor step: take away one region's DWS L4 quota, take the quota snapshot, run `flexrun doctor`.

The run that follows asks for DEMO_CHAIN, so submit-run skips the us-east4 step for quota and its
Slack message says so; the doctor named that step, with its fix, before anything ran.
"""

from __future__ import annotations

import os
import subprocess
import sys

from local.services.cloud import REPO_ROOT, LocalCloud
from local.standins.projectapis import admin

DEMO_CHAIN = ["L4@us-east4:FLEX_START", "L4@us-central1:FLEX_START"]
L4_DWS = "aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_l4_gpus"


def _cli(cloud: LocalCloud, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**os.environ, **cloud.env, **(env or {})},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def run_doctor(cloud: LocalCloud) -> bool:
    """True when the doctor found exactly what the demo set up: step 1 blocked, nothing else wrong."""
    admin.set_quota(cloud.endpoints["projectapis"], L4_DWS, "us-east4", 0)
    tick = _cli(cloud, "runs", "reconcile")  # the reconciler's tick also stores the quota snapshot
    print(f"preemptible L4 quota in us-east4 set to 0; `flexrun runs reconcile`: {tick.stdout.strip()}")
    chain_env = {"FLEXRUN_FALLBACK_CHAIN": ", ".join(DEMO_CHAIN)}
    result = _cli(cloud, "doctor", "--env-file", str(cloud.state_dir / "env"), env=chain_env)
    print(result.stdout.rstrip() or result.stderr.rstrip())
    problems = [line for line in result.stdout.splitlines() if line.lstrip().startswith("✗")]
    return result.returncode == 1 and len(problems) == 1 and "us-east4" in problems[0]
