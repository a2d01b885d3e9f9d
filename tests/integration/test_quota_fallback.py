"""Quota-aware fallback end to end: the reconcile tick stores Cloud Quotas' GPU limits, submit-run plans with them.

Zero preemptible L4 quota in us-east4: a run whose chain starts there skips that step, runs the next,
records the skip and announces it. Zero everywhere: the run is refused before any job, with the list.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from deploy import topology
from local.demo import chain
from local.services.cloud import REPO_ROOT, LocalCloud
from local.standins.projectapis import admin
from shared.cloud.clients import job_service_client
from shared.polling import poll
from shared.stores.mongo_store import MongoRunStore

pytestmark = pytest.mark.integration

L4_DWS = "aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_l4_gpus"
CHAIN = ["L4@us-east4:FLEX_START", "L4@us-central1:FLEX_START~300s"]
REQUEST_PAGE = "https://console.cloud.google.com/iam-admin/quotas?project=local-project"


def reconcile_tick(cloud: LocalCloud) -> str:
    """`flexrun runs reconcile`: what the scheduled tick does, quota snapshot included."""
    result = subprocess.run(
        [sys.executable, "-m", "cli", "runs", "reconcile"],
        env={**os.environ, **cloud.env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def deployed(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> None:
    package = chain.build_trainer_package(tmp_path_factory.mktemp("dist"))
    chain.wait_for_manifest_entry(local_cloud, chain.upload_package(local_cloud, package, uploader="pytest"))


@pytest.fixture()
def quotas(local_cloud: LocalCloud, deployed: None) -> Iterator[str]:
    """The stand-in's URL; afterwards its quotas are restored and the snapshot taken again."""
    url = local_cloud.endpoints["projectapis"]
    saved = admin.state(url)
    try:
        yield url
    finally:
        admin.update(url, **saved)
        reconcile_tick(local_cloud)


def store(cloud: LocalCloud) -> MongoRunStore:
    return MongoRunStore(chain.runs_collection(cloud).database)


def run(cloud: LocalCloud, run_key: str) -> None:
    chain.publish_run(
        cloud,
        {"run_key": run_key, "requested_by": "pytest", "fallback": CHAIN, "timeout": 900, "args": ["--epochs", "1"]},
    )


def test_a_step_without_quota_is_skipped_recorded_and_announced_and_the_next_step_runs(
    local_cloud: LocalCloud, quotas: str
):
    admin.set_quota(quotas, L4_DWS, "us-east4", 0)
    assert "quota snapshot refreshed" in reconcile_tick(local_cloud)
    run(local_cloud, "it-quota-skip")

    record = chain.wait_for_run(local_cloud, "it-quota-skip", timeout=600).model_dump()
    assert record["state"] == "succeeded" and record["attempt"] == 1
    assert record["region"] == "us-central1" and record["job_name"]
    (skipped,) = record["skipped_steps"]
    assert skipped["region"] == "us-east4" and skipped["reason"] == "preemptible L4 quota 0"
    (message,) = chain.slack_messages_for(local_cloud, "it-quota-skip")
    assert f"skipped L4 @ us-east4: preemptible L4 quota 0 — request it at {REQUEST_PAGE}" in message["text"]


def test_with_every_quota_zero_the_run_is_refused_before_any_job_with_the_blocked_steps(
    local_cloud: LocalCloud, quotas: str
):
    admin.set_gpu_quotas(quotas, 0)
    reconcile_tick(local_cloud)
    run(local_cloud, "it-quota-refused")

    def refused() -> dict[str, Any] | None:
        record = store(local_cloud).get("it-quota-refused", 1)
        return record.model_dump(exclude_none=True) if record and record.notified_state == "failed" else None

    record = poll(refused, timeout=120, what="the refusal to be recorded and announced", interval=0.25)
    assert record["failure_class"] == "quota_exceeded" and "job_name" not in record
    assert [s["region"] for s in record["skipped_steps"]] == ["us-east4", "us-central1"]
    assert record["error"]["message"].startswith("No step of the fallback chain can run: skipped L4 @ us-east4")
    assert not store(local_cloud).get("it-quota-refused", 2)
    jobs = job_service_client(local_cloud.env["VERTEX_AI_API_ENDPOINT"])
    for region in ("us-east4", "us-central1"):
        parent = f"projects/{topology.PROJECT_ID}/locations/{region}"
        assert not list(
            jobs.list_custom_jobs(request={"parent": parent, "filter": 'labels.run_key="it-quota-refused"'})
        )
    (message,) = chain.slack_messages_for(local_cloud, "it-quota-refused")
    assert "skipped L4 @ us-central1: preemptible L4 quota 0" in message["text"]
