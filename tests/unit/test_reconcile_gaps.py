"""The reconciler repairs what no event will: an attempt claimed but never given a job is handed back
to submit-run, a terminal attempt nobody announced is announced once (its fallback decided first), and
a second tick does nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.config.settings import Settings
from shared.packages.manifest import Manifest
from shared.runs.failures import FailureClass
from shared.runs.reconcile import ReconcileReport, reconcile_open_runs
from shared.runs.record import RunChanges, RunError
from shared.runs.states import RunState
from shared.runs.submit_run import handle_run_request
from tests.cloud_fakes import Slack, Topic, Vertex
from tests.memory_store import MemoryRunStore
from tests.records import CLAIMED, a_record

SETTINGS = Settings(gcp_project_id="p")
L4 = {"gpu_type": "NVIDIA_L4", "gpu_count": 1, "machine_type": "g2-standard-4", "strategy": "FLEX_START",
      "max_wait": 1800}  # fmt: skip
CHAIN = [{**L4, "region": "us-central1"}, {**L4, "region": "us-east4"}]
LATER = datetime.now(timezone.utc) + timedelta(hours=1)  # every record here is older than the threshold then


def tick(store: MemoryRunStore, topic: Topic, slack: Slack, vertex: Vertex | None = None) -> ReconcileReport:
    return reconcile_open_runs(settings=SETTINGS, store=store, jobs_for_region=(vertex or Vertex()).for_region,
                               storage=None, notifier=slack, publisher=topic, now=LATER)  # fmt: skip


def refused_at_create(store: MemoryRunStore, run_key: str, chain: list[dict[str, Any]]) -> None:
    """What a submit-run that died right after recording the refusal leaves: failed, unannounced, undecided."""
    store.claim(a_record(run_key=run_key, chain=chain))
    quota = FailureClass.QUOTA_EXCEEDED
    error = RunError(message="The following quota metrics exceed quota limits: aiplatform.googleapis.com/...")
    store.advance(run_key, 1, RunState.FAILED, RunChanges(error=error, failure_class=quota.value, hint=quota.hint))


def test_an_attempt_claimed_without_a_job_is_handed_back_to_submit_run_which_creates_it_once():
    store, topic, slack, vertex = MemoryRunStore(), Topic(), Slack(), Vertex()
    store.claim(a_record(run_key="stuck", chain=CHAIN))  # its message aged out before any job

    first, second = tick(store, topic, slack), tick(store, topic, slack)

    assert first.resubmitted == ["stuck#1"] and second.resubmitted == [] and not second.failed
    (handed_back,) = topic.published
    for _ in range(2):  # delivered twice: one job
        outcome = handle_run_request(handed_back, settings=SETTINGS, manifest=Manifest(), store=store,
                                     jobs_for_region=vertex.for_region, notifier=slack)  # fmt: skip
    assert outcome.action == "duplicate" and len(vertex.created) == 1
    record = store.get("stuck", 1)
    assert record is not None and record.state is RunState.QUEUED and record.region == CLAIMED["region"]


def test_an_unannounced_refusal_at_create_is_decided_and_announced_once_by_the_reconciler():
    store, topic, slack, vertex = MemoryRunStore(), Topic(), Slack(), Vertex()
    refused_at_create(store, "silent", CHAIN)

    first = tick(store, topic, slack)
    (continuation,) = topic.published  # the fallback the dead submit-run never started
    handle_run_request(continuation, settings=SETTINGS, manifest=Manifest(), store=store,
                       jobs_for_region=vertex.for_region, notifier=slack)  # fmt: skip
    second = tick(store, topic, slack, vertex)

    assert first.announced == ["silent#1"] and second == ReconcileReport(checked=1, advanced=["silent#2"])
    (announced,) = slack.sent
    assert "Fell back to attempt 2" in json.dumps(announced.blocks)
    assert len(topic.published) == 1 and len(vertex.created) == 1


def test_an_unannounced_refusal_on_the_last_step_is_announced_once_saying_the_run_failed():
    store, topic, slack = MemoryRunStore(), Topic(), Slack()
    refused_at_create(store, "silent-last", CHAIN[:1])

    tick(store, topic, slack)
    tick(store, topic, slack)

    (announced,) = slack.sent
    assert "No step of the fallback chain is left: the run failed." in announced.text
    assert topic.published == []
