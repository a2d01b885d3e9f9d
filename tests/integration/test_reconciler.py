"""The deployed reconciler alone ends what no log line announces, through the whole local cloud.

The local Vertex writes no `service` line for a job cancelled while pending or for a FLEX_START
max-wait expiry (google-facts.md: Google shows none), so job-state is never woken for those ends: only
the reconciler function, ticked by the local Cloud Scheduler, can finish the run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.demo import chain
from local.services.cloud import LocalCloud
from shared.polling import poll
from shared.runs.record import RunRecord
from shared.stores.mongo_store import MongoRunStore
from tests.chaos.kit import DetachedTrigger, admin, jobs_for, run_request, slack_for

pytestmark = pytest.mark.integration

WAITING_GPU = {"NVIDIA_H100_80GB": 0}  # no local DWS capacity: a job of it waits until its max wait


@pytest.fixture(scope="module")
def deployed(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.chaos import kit

    upload = kit.upload(local_cloud, kit.PACKAGE_VERSION, tmp_path_factory.mktemp("packages"))
    entry = chain.wait_for_manifest_entry(local_cloud, upload, timeout=120)
    assert entry["status"] == "validated", entry.get("reasons")
    admin(f"{local_cloud.endpoints['vertex']}/_admin/capacity", WAITING_GPU)
    return str(entry["version"])


def _store(cloud: LocalCloud) -> MongoRunStore:
    return MongoRunStore(chain.runs_collection(cloud).database)


def _record(cloud: LocalCloud, run_key: str, attempt: int, done: Any, timeout: float = 90) -> RunRecord:
    store = _store(cloud)

    def probe() -> RunRecord | None:
        record = store.get(run_key, attempt)
        return record if record and done(record) else None

    return poll(probe, timeout=timeout, what=f"{run_key}#{attempt}", interval=0.2)


def _service_lines(cloud: LocalCloud, job_id: str) -> list[str]:
    path = cloud.state_dir / "vertex" / "log-entries.jsonl"
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    return [e["textPayload"] for e in entries if e["resource"]["labels"]["job_id"] == job_id]


def _published(cloud: LocalCloud, run_key: str) -> bool:
    """The next attempt was published (the decision is recorded just before the publish)."""
    for function in ("job-state", "reconcile-runs"):
        for raw in cloud.log_path(function).read_text().splitlines():
            if '"capacity fallback requested"' in raw and f'"run_key": "{run_key}"' in raw:
                return True
    return False


def _announced(record: RunRecord) -> bool:
    return record.announced


def _h100(run_key: str, **extra: Any) -> dict[str, Any]:
    return run_request(run_key, gpu={"type": "NVIDIA_H100_80GB"}, machine_type="a3-highgpu-1g", **extra)


def test_a_job_cancelled_while_pending_ends_through_the_reconciler_alone(local_cloud: LocalCloud, deployed: str):
    run_key = "rec-cancel-pending"
    chain.publish_run(local_cloud, _h100(run_key, fallback=[]))
    pending = _record(local_cloud, run_key, 1, lambda r: r.state == "pending")
    (job,) = jobs_for(local_cloud, run_key)
    from shared.cloud import clients

    clients.job_service_client(local_cloud.env["VERTEX_AI_API_ENDPOINT"]).cancel_custom_job(name=job.name)
    ended = _record(local_cloud, run_key, 1, _announced)
    assert ended.state == "cancelled" and ended.job_id == pending.job_id and pending.job_id
    assert _service_lines(local_cloud, pending.job_id)[-1] == "Waiting for job to be provisioned."
    assert len(slack_for(local_cloud, run_key)) == 1


def test_a_dws_expiry_without_a_log_line_ends_through_the_reconciler_alone(local_cloud: LocalCloud, deployed: str):
    run_key = "rec-expired"
    chain.publish_run(local_cloud, _h100(run_key, fallback=[], max_wait=2))
    ended = _record(local_cloud, run_key, 1, _announced)
    assert (ended.state, ended.failure_class) == ("expired", "capacity_wait_expired")
    assert ended.next_attempt is None and ended.job_id  # the chain has no next step: the run ends here
    assert _service_lines(local_cloud, ended.job_id)[-1] == "Waiting for job to be provisioned."
    assert len(slack_for(local_cloud, run_key)) == 1


def test_a_lost_continuation_is_published_again_by_the_reconciler(local_cloud: LocalCloud, deployed: str):
    run_key = "rec-lost-continuation"
    steps = ["H100@us-central1:FLEX_START~2s", "H100x2@us-central1:FLEX_START~2s"]
    chain.publish_run(local_cloud, _h100(run_key, fallback=steps, max_wait=2))  # the message wins on step 1
    _record(local_cloud, run_key, 1, lambda r: bool(r.job_id))
    with DetachedTrigger(local_cloud, "submit-run"):  # the continuation is published while nobody listens
        first = _record(local_cloud, run_key, 1, lambda r: r.next_attempt == 2)
        poll(lambda: _published(local_cloud, run_key), timeout=30, what="the continuation to be published")
        assert _store(local_cloud).get(run_key, 2) is None
    second = _record(local_cloud, run_key, 2, _announced, timeout=120)
    assert (second.previous_attempt, second.gpu_count) == (1, 2)
    assert (first.fallback_reason, second.state) == ("capacity_wait_expired", "expired")
    assert sorted(j.labels["attempt"] for j in jobs_for(local_cloud, run_key)) == ["1", "2"]
    reconciler_log = local_cloud.log_path("reconcile-runs").read_text()
    assert "lost continuation published again" in reconciler_log
