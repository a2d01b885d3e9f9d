"""Capacity fallback end to end: no L4 capacity → attempt 1 waits out its max wait → attempt 2 on A100 trains.

Everything goes through the local cloud as in production: a run message on Pub/Sub, the submit
function, the local Vertex's DWS simulation, job-state events, MongoDB and Slack.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from deploy import topology
from local.demo import chain
from local.services.cloud import LocalCloud
from shared.polling import poll
from shared.runs.record import RunRecord
from shared.stores.mongo_store import MongoRunStore

pytestmark = pytest.mark.integration

RUN_KEY = "it-fallback-1"


def set_capacity(cloud: LocalCloud, slots: dict[str, int]) -> None:
    request = urllib.request.Request(
        cloud.endpoints["vertex"] + "/_admin/capacity", data=json.dumps(slots).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(scope="module")
def attempts(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    package = chain.build_trainer_package(tmp_path_factory.mktemp("dist"))
    chain.wait_for_manifest_entry(local_cloud, chain.upload_package(local_cloud, package, uploader="pytest"))
    store = MongoRunStore(chain.runs_collection(local_cloud).database)
    set_capacity(local_cloud, {"NVIDIA_L4": 0})
    try:
        chain.publish_run(
            local_cloud,
            {
                "run_key": RUN_KEY,
                "requested_by": "pytest",
                "reason": "fallback test",
                "fallback": ["L4@us-central1:FLEX_START~2s", "A100:FLEX_START~300s"],
                "timeout": 900,
                "args": ["--epochs", "1"],
            },
        )

        def second_attempt_announced() -> RunRecord | None:
            record = store.get(RUN_KEY, 2)
            return record if record and record.announced else None

        second = poll(second_attempt_announced, timeout=600, what="attempt 2 to finish and be announced", interval=0.25)
    finally:
        set_capacity(local_cloud, {"NVIDIA_L4": 1})
    first = poll(lambda: (r := store.get(RUN_KEY, 1)) and r.announced and r or None,
                 timeout=60, what="attempt 1 to be announced", interval=0.25)  # fmt: skip
    return [first.model_dump(), second.model_dump()]


def test_the_run_ends_on_the_next_step_of_the_chain(attempts: list[dict[str, Any]]):
    first, second = attempts
    # "expired" or "failed": shared/runs/states.from_vertex decides from Vertex's error text (see the report).
    assert first["state"] in ("expired", "failed")
    assert (first["gpu_type"], first["strategy"]) == ("NVIDIA_L4", "FLEX_START")
    assert (second["state"], second["gpu_type"], second["machine_type"]) == (
        "succeeded",
        "NVIDIA_TESLA_A100",
        "a2-highgpu-1g",
    ), second.get("error")


def test_both_attempts_are_recorded_with_their_reasons(attempts: list[dict[str, Any]]):
    first, second = attempts
    assert first["fallback_reason"] == "capacity_wait_expired" and first["next_attempt"] == 2
    assert "maximum wait duration" in first["error"]["message"]
    assert second["previous_attempt"] == 1 and second["fallback_reason"] == "capacity_wait_expired"
    assert second["step_label"].startswith("1x NVIDIA_TESLA_A100 on a2-highgpu-1g @ us-central1 FLEX_START")
    assert first["job_id"] != second["job_id"]
    assert first["package_sha256"] == second["package_sha256"] and second["args"] == ["--epochs", "1"]


def test_slack_says_which_step_comes_next_and_why(attempts: list[dict[str, Any]], local_cloud: LocalCloud):
    texts = [m["text"] + json.dumps(m.get("blocks")) for m in chain.slack_messages_for(local_cloud, RUN_KEY)]
    assert len(texts) == 2
    expired = next(t for t in texts if "Fell back" in t)
    assert "Fell back to attempt 2" in expired and "NVIDIA_TESLA_A100" in expired
    assert any("succeeded" in t for t in texts)


def _jobs_of_run(cloud: LocalCloud) -> dict[str, Any]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform_v1

    client = aiplatform_v1.JobServiceClient(
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        transport="rest",
        client_options={"api_endpoint": cloud.env["VERTEX_AI_API_ENDPOINT"]},
    )
    parent = f"projects/{topology.PROJECT_ID}/locations/{topology.REGION}"
    found = client.list_custom_jobs(request={"parent": parent, "filter": f'labels.run_key="{RUN_KEY}"'})
    return {job.labels["attempt"]: job for job in found}


def _logged(cloud: LocalCloud, function: str, message: str) -> list[dict[str, Any]]:
    lines = [json.loads(raw) for raw in cloud.log_path(function).read_text().splitlines() if raw.startswith("{")]
    return [line for line in lines if line.get("message") == message]


def test_the_next_attempt_is_created_by_submit_run_as_the_trainer(
    attempts: list[dict[str, Any]], local_cloud: LocalCloud
):
    # job-state runs without the trainer's service account, as deployed: had it created attempt 2, the
    # job would run as Vertex's default service agent.
    assert "VERTEX_AI_SERVICE_ACCOUNT" not in local_cloud.function_envs["job-state"]
    jobs = _jobs_of_run(local_cloud)
    assert set(jobs) == {"1", "2"}
    trainer = local_cloud.env["VERTEX_AI_SERVICE_ACCOUNT"]
    assert [jobs[a].job_spec.service_account for a in ("1", "2")] == [trainer, trainer]
    created = {line["job_name"] for line in _logged(local_cloud, "submit-run", "job created")}
    assert {jobs["1"].name, jobs["2"].name} <= created
    assert not _logged(local_cloud, "job-state", "job created") and not _logged(
        local_cloud, "reconcile-runs", "job created"
    )
    # Whoever saw attempt 1 end (job-state, or the reconciler: a DWS expiry logs no line) published attempt 2.
    published = [
        line
        for function in ("job-state", "reconcile-runs")
        for line in _logged(local_cloud, function, "capacity fallback requested")
        if line["run_key"] == RUN_KEY
    ]
    assert published and {line["attempt"] for line in published} == {2}
