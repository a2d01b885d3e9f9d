"""A create Vertex refuses (quota, stockout) ends its attempt without a job, so no log line will ever
wake job-state for it: submit-run announces it, once, saying what really follows."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from cli.run import summary_paragraph
from shared.cloud import http
from shared.config.settings import Settings
from shared.errors import PermanentError, TransientError
from shared.events.cloudevents import PubsubMessage
from shared.notify.figures import plain
from shared.packages.manifest import Manifest, ManifestEntry
from shared.runs.continuation import what_next
from shared.runs.submit_run import handle_run_request
from tests.cloud_fakes import Slack, Vertex
from tests.memory_store import MemoryRunStore

QUOTA = (
    "The following quota metrics exceed quota limits: "
    "aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_h100_gpus"
)
STOCKOUT = "Resources are insufficient in region: us-central1. Try a different region or use a different accelerator."
CHAIN = ["H100@us-central1:FLEX_START", "H100@us-east4:FLEX_START"]
SETTINGS = Settings(gcp_project_id="p", vertex_ai_gpu_type="NVIDIA_H100_80GB",
                    vertex_ai_machine_type="a3-highgpu-1g")  # fmt: skip
MANIFEST = Manifest(entries=[ManifestEntry(version="0.0.1", status="validated", generation=1, uri="gs://b/p.tar.gz",
                                           object_name="packages/p.tar.gz", sha256="ab" * 32)])  # fmt: skip


def deliver(store: MemoryRunStore, vertex: Vertex, slack: Slack, run_key: str = "refused") -> Any:
    body = json.dumps({"run_key": run_key, "fallback": CHAIN}).encode()
    message = PubsubMessage(body, {}, "m-1", datetime.now(timezone.utc))
    return handle_run_request(message, settings=SETTINGS, manifest=MANIFEST, jobs_for_region=vertex.for_region,
                              store=store, notifier=slack)  # fmt: skip


def test_a_quota_refusal_on_the_last_step_is_announced_once_saying_no_step_is_left():
    store, slack = MemoryRunStore(), Slack()
    vertex = Vertex({"us-central1": http.TooManyRequests(QUOTA), "us-east4": http.TooManyRequests(QUOTA)})

    outcome = deliver(store, vertex, slack)
    deliver(store, vertex, slack)  # the redelivery announces nothing again

    assert outcome.action == "ended" and not vertex.created
    first, last = slack.sent
    assert "refused` failed" in first.text and "Fell back to attempt 2" in json.dumps(first.blocks)
    assert "(attempt 2)" in last.text and "No step of the fallback chain is left: the run failed." in last.text
    assert [r.announced for r in store.attempts("refused")] == [True, True]


def test_a_stockout_at_create_is_announced_once_naming_the_step_that_runs_next():
    store, slack, vertex = MemoryRunStore(), Slack(), Vertex({"us-central1": http.TooManyRequests(STOCKOUT)})

    outcome = deliver(store, vertex, slack)
    deliver(store, vertex, slack)

    assert outcome.action == "created" and outcome.attempt == 2 and len(vertex.created) == 1
    (announced,) = slack.sent
    assert "(stockout)" in json.dumps(announced.blocks) and "us-east4" in json.dumps(announced.blocks)
    assert "Outputs" not in json.dumps(announced.blocks)  # no job ran: it wrote nothing
    assert "No step" not in announced.text


def test_slack_down_does_not_hold_back_the_next_step_and_the_redelivery_announces_once():
    store, slack, vertex = MemoryRunStore(), Slack(down_for=1), Vertex({"us-central1": http.TooManyRequests(QUOTA)})

    with pytest.raises(TransientError, match="announcement"):
        deliver(store, vertex, slack)
    assert len(vertex.created) == 1  # attempt 2 went ahead while Slack was down
    deliver(store, vertex, slack)

    assert len(slack.sent) == 1 and len(vertex.created) == 1
    assert store.get("refused", 1).announced  # type: ignore[union-attr]


def test_run_wait_says_the_run_failed_with_no_step_left():
    store, slack = MemoryRunStore(), Slack()
    deliver(store, Vertex({"us-central1": http.TooManyRequests(QUOTA), "us-east4": http.TooManyRequests(QUOTA)}), slack)
    last = store.get("refused", 2)
    assert last is not None

    text = summary_paragraph(plain(last), what_next(last))

    assert "What happens next: No step of the fallback chain is left: the run failed." in text
    assert "goes on" not in text


def test_a_create_vertex_refuses_for_good_is_announced_once_as_submit_refused():
    store, slack = MemoryRunStore(), Slack()
    vertex = Vertex({"us-central1": http.BadRequest("workerPoolSpecs[0].machineSpec: unsupported")})

    with pytest.raises(PermanentError):
        deliver(store, vertex, slack)
    assert deliver(store, vertex, slack).action == "duplicate"  # the redelivery finds it ended and announced

    (announced,) = slack.sent
    assert "submit_refused" in json.dumps(announced.blocks)
    assert "is not something another step of the chain can fix" in announced.text
