"""Any script deployable: examples/predict.py is wrapped, uploaded, validated, run by the local Vertex AI
and announced in Slack, through the same CLI commands the README shows.

The test wraps with an explicit 0.0.x version and uploads with `--allow-older`, and its run message
names that version: the session's local cloud is shared, and a wrapped script taking the next free
version (what `wrap` does without `--version`, checked here without uploading) would become the
deployable version the other modules' runs expect to be the trainer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local.demo import chain
from local.services.cloud import REPO_ROOT, LocalCloud

pytestmark = pytest.mark.integration
RUN_KEY = "it-wrapped-script-1"
VERSION = "0.0.800"


def _cli(cloud: LocalCloud, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli", "package", "--env-file", str(cloud.state_dir / "env"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)


def _wrap(cloud: LocalCloud, outdir: Path, *args: str) -> Path:
    wrapped = _cli(cloud, "wrap", "examples/predict.py", "--requirements", "examples/requirements.txt", *args,
                   "--outdir", str(outdir))  # fmt: skip
    assert wrapped.returncode == 0, wrapped.stderr
    return Path(wrapped.stdout.strip().splitlines()[-1])


def _replica_log(cloud: LocalCloud, job_id: str) -> str:
    (log,) = [p for p in cloud.state_dir.rglob("replica.log") if p.parent.name == job_id]
    return log.read_text()


def test_wrapped_script_is_uploaded_validated_run_by_vertex_and_announced(local_cloud: LocalCloud, tmp_path: Path):
    manifest = chain.read_manifest(local_cloud) or {"entries": []}
    majors = [int(e["version"].split(".")[0]) for e in manifest["entries"] if e["version"].split(".")[0].isdigit()]
    untagged = _wrap(local_cloud, tmp_path / "next")
    assert untagged.name == f"predict-{max(majors, default=0) + 1}.tar.gz"  # the next free version

    package = _wrap(local_cloud, tmp_path / "dist", "--version", VERSION)
    uploaded = _cli(local_cloud, "upload", str(package), "--allow-older", "--wait", "--uploader", "wrap-test")
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    assert f"validated: version {VERSION}" in uploaded.stdout
    shown = json.loads(_cli(local_cloud, "show", VERSION).stdout)["uploads"][0]
    assert shown["entry_module"] == "predict.task" and shown["package_name"] == "predict"

    chain.publish_run(
        local_cloud,
        {"run_key": RUN_KEY, "package_version": VERSION, "args": ["--window", "3", "--closes", "10,11,12,14"],
         "requested_by": "pytest", "max_wait": 300, "timeout": 600},
    )  # fmt: skip
    record = chain.wait_for_run(local_cloud, RUN_KEY, timeout=600).model_dump()
    assert record["state"] == "succeeded", record.get("error")
    assert (record["package_version"], record["package_module"]) == (VERSION, "predict.task")
    # The script itself ran, with the message's arguments: mean of 11, 12, 14 after a close of 14.
    assert '"predicted_close": 12.3333' in _replica_log(local_cloud, record["job_id"])
    messages = chain.slack_messages_for(local_cloud, RUN_KEY)
    assert len(messages) == 1 and "succeeded" in messages[0]["text"] and VERSION in messages[0]["text"]
