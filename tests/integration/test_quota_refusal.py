"""A run refused for quota, redelivered: refused again, announced once; a run planned with quota keeps its job.

The submit core runs in this process against the local Vertex AI and MongoDB (tests/integration/
test_submit_runs.py's harness) with the quota snapshot handed in directly.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from local.services.cloud import LocalCloud
from shared.notify.slack import SlackMessage
from shared.quotas.snapshot import MetricLimits, QuotaSnapshot
from shared.runs.submit_run import handle_run_request
from tests.integration.test_submit_runs import MANIFEST, WAITING_GPUS, Submitter, message, settings_for, vertex_admin

pytestmark = pytest.mark.integration

H100_DWS = "aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_h100_gpus"
CHAIN = ["H100@us-central1:FLEX_START", "H100@us-east4:FLEX_START"]


class Recorder:
    def __init__(self) -> None:
        self.sent: list[SlackMessage] = []

    def send(self, message: SlackMessage) -> None:
        self.sent.append(message)


def snapshot(limit: int) -> QuotaSnapshot:
    limits = MetricLimits(quota_id="H100Preemptible", default=limit)
    return QuotaSnapshot(project="local-project", taken_at=datetime.now(timezone.utc), metrics={H100_DWS: limits})


@pytest.fixture(scope="module")
def submitter(local_cloud: LocalCloud) -> Any:
    vertex_admin(local_cloud, "/_admin/capacity", WAITING_GPUS)  # jobs wait: nothing trains
    made = Submitter(local_cloud, settings_for(local_cloud))
    yield made
    for run_key in ("it-quota-planned",):
        for job in made.jobs(run_key):
            made.jobs_for_region("us-central1").cancel_custom_job(name=job.name)


def submit(submitter: Submitter, run_key: str, limit: int, notifier: Recorder, message_id: str) -> Any:
    return handle_run_request(
        message({"run_key": run_key, "fallback": CHAIN}, message_id),
        settings=submitter.settings,
        manifest=MANIFEST,
        jobs_for_region=submitter.jobs_for_region,
        store=submitter.store,
        quota_snapshot=lambda: snapshot(limit),
        notifier=notifier,
    )


def test_a_refused_run_redelivered_is_refused_again_and_announced_once(submitter: Submitter):
    notifier = Recorder()
    first = submit(submitter, "it-quota-twice", 0, notifier, "m-1")
    again = submit(submitter, "it-quota-twice", 0, notifier, "m-1")

    assert (first.action, again.action) == ("refused", "refused")
    (announced,) = notifier.sent
    assert "skipped H100 @ us-central1: preemptible H100 quota 0" in announced.text
    assert "skipped H100 @ us-east4" in announced.text
    record = submitter.store.get("it-quota-twice", 1)
    assert record.state == "failed" and record.notified_state == "failed"
    assert not submitter.jobs("it-quota-twice") and not submitter.jobs("it-quota-twice", "us-east4")


def test_a_run_planned_with_quota_keeps_its_job_when_a_later_snapshot_says_zero(submitter: Submitter):
    notifier = Recorder()
    created = submit(submitter, "it-quota-planned", 4, notifier, "m-2")
    redelivered = submit(submitter, "it-quota-planned", 0, notifier, "m-2")

    assert created.action == "created" and redelivered.action == "duplicate"
    assert redelivered.job_name == created.job_name and not notifier.sent
    record = submitter.store.get("it-quota-planned", 1)
    # The session cloud's job-state may already have recorded the job's first log line (pending).
    assert record.state in ("queued", "pending") and record.skipped_steps == []
