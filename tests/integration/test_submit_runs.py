"""Run message → CustomJob against the local Vertex AI JobService and MongoDB, through the real clients.

The submit core runs in this process with the production JobServiceClient (REST) and MongoRunStore;
malformed messages go over HTTP to the served submit function. Jobs here ask for GPU types whose local
DWS capacity is zero, so they wait (nothing trains) and are cancelled at the end.
"""

from __future__ import annotations

import base64
import json
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from google.cloud import aiplatform_v1
from google.protobuf import json_format

from local.demo import chain
from local.services.cloud import LocalCloud
from shared.cloud import wiring
from shared.config.settings import Settings
from shared.errors import InvalidRunRequest, TransientError
from shared.events.cloudevents import PUBSUB_PUBLISHED, PubsubMessage
from shared.jobs.images import trainer_image_tag
from shared.packages.manifest import Manifest, ManifestEntry
from shared.runs.record import RunChanges, RunError
from shared.runs.states import RunState
from shared.runs.submit_run import handle_run_request
from shared.stores.mongo_store import MongoRunStore

pytestmark = pytest.mark.integration

PACKAGE = "gs://flexrun-packages/packages/flexrun_trainer-0.0.1.tar.gz"
MANIFEST = Manifest(
    entries=[
        ManifestEntry(
            version="0.0.1",
            status="validated",
            object_name="packages/flexrun_trainer-0.0.1.tar.gz",
            generation=1,
            uri=PACKAGE,
            sha256="ab" * 32,
        )
    ]
)
WAITING_GPUS = {"NVIDIA_H100_80GB": 0, "NVIDIA_H200_141GB": 0}


def vertex_admin(cloud: LocalCloud, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        cloud.endpoints["vertex"] + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    urllib.request.urlopen(request, timeout=10).close()


def settings_for(cloud: LocalCloud, **changes: Any) -> Settings:
    values = {k.lower(): v for k, v in cloud.env.items() if k.lower() in Settings.model_fields}
    values.update(vertex_ai_gpu_type="NVIDIA_H100_80GB", vertex_ai_machine_type="a3-highgpu-1g", **changes)
    return Settings(**values)


def message(data: dict[str, Any] | bytes, message_id: str = "m-1") -> PubsubMessage:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return PubsubMessage(raw, {"correlation_id": "Corr 7"}, message_id, datetime.now(timezone.utc))


class Submitter:
    def __init__(self, cloud: LocalCloud, settings: Settings) -> None:
        self.cloud, self.settings = cloud, settings
        self.store = MongoRunStore(chain.runs_collection(cloud).database)
        self.jobs_for_region = wiring.jobs_for_region(settings)

    def submit(self, data: dict[str, Any] | bytes, message_id: str = "m-1") -> Any:
        return handle_run_request(
            message(data, message_id), settings=self.settings, manifest=MANIFEST,
            jobs_for_region=self.jobs_for_region, store=self.store,
        )  # fmt: skip

    def jobs(self, run_key: str, region: str = "us-central1") -> list[aiplatform_v1.CustomJob]:
        parent = f"projects/{self.settings.gcp_project_id}/locations/{region}"
        found = self.jobs_for_region(region).list_custom_jobs(
            request={"parent": parent, "filter": f'labels.run_key="{run_key}"'}
        )
        # The REST client keeps each job's resource JSON: read it whole with the API's own type.
        return [aiplatform_v1.CustomJob.from_json(json.dumps(job.raw), ignore_unknown_fields=True) for job in found]

    def sent_body(self, job_name: str) -> aiplatform_v1.CustomJob:
        """What the client sent, as the local Vertex stored it (proto-JSON), parsed back strictly."""
        stored = self.cloud.state_dir / "vertex" / "jobs" / job_name.rsplit("/", 1)[-1] / "job.json"
        parsed = json_format.Parse(stored.read_text(), aiplatform_v1.CustomJob.pb(aiplatform_v1.CustomJob()))
        return aiplatform_v1.CustomJob.wrap(parsed)


@pytest.fixture(scope="module")
def submitter(local_cloud: LocalCloud) -> Any:
    vertex_admin(local_cloud, "/_admin/capacity", WAITING_GPUS)
    made = Submitter(local_cloud, settings_for(local_cloud, flexrun_trainer_secrets="MONGODB_URL=mongodb-url"))
    yield made
    for region in ("us-central1", "europe-west4"):
        client = made.jobs_for_region(region)
        parent = f"projects/{made.settings.gcp_project_id}/locations/{region}"
        for job in client.list_custom_jobs(request={"parent": parent, "filter": 'labels.flexrun="run"'}):
            if job.labels.get("run_key", "").startswith("it-sub-") and job.state.name in (
                "JOB_STATE_PENDING",
                "JOB_STATE_QUEUED",
            ):
                client.cancel_custom_job(name=job.name)


def test_default_run_body_parses_back_field_by_field(submitter: Submitter):
    outcome = submitter.submit({"run_key": "it-sub-default"})
    assert outcome.action == "created"
    job = submitter.sent_body(outcome.job_name)
    pool = job.job_spec.worker_pool_specs[0]
    scheduling = job.job_spec.scheduling
    assert scheduling.strategy == aiplatform_v1.Scheduling.Strategy.FLEX_START
    assert scheduling.max_wait_duration.total_seconds() == 1800 and scheduling.timeout.total_seconds() == 3600
    assert (pool.machine_spec.machine_type, pool.machine_spec.accelerator_type.name) == (
        "a3-highgpu-1g",
        "NVIDIA_H100_80GB",
    )
    assert pool.machine_spec.accelerator_count == 1 and pool.replica_count == 1
    assert "python_package_spec" not in pool  # our image in Artifact Registry, its launcher as entry point
    image = f"us-central1-docker.pkg.dev/local-project/flexrun/trainer:{trainer_image_tag()}"
    assert pool.container_spec.image_uri == image
    assert not pool.container_spec.command
    assert list(pool.container_spec.args) == [
        f"--package-uri={PACKAGE}",
        f"--package-sha256={'ab' * 32}",
        "--module=flexrun_trainer.task",
        "--",
    ]
    assert job.job_spec.service_account == "trainer@local-project.iam.gserviceaccount.com"
    assert job.job_spec.base_output_directory.output_uri_prefix == "gs://flexrun-staging/runs/it-sub-default/attempt-1"
    assert dict(job.labels) == {
        "flexrun": "run",
        "run_key": "it-sub-default",
        "attempt": "1",
        "strategy": "flex_start",
        "package_version": "0-0-1",
        "correlation_id": "corr-7",
    }
    assert outcome.job_name.startswith("projects/local-project/locations/us-central1/customJobs/")


def test_override_run_body_keeps_zero_max_wait_and_holds_no_secret(submitter: Submitter, local_cloud: LocalCloud):
    override = {
        "run_key": "it-sub-override",
        "gpu": {"type": "H200", "count": 8},
        "machine_type": "a3-ultragpu-8g",
        "region": "europe-west4",
        "max_wait": 0,
        "timeout": 7 * 24 * 3600,
        "args": ["--epochs", "1"],
        "env": {"FLEXRUN_MODE": "override"},
    }
    outcome = submitter.submit(override, message_id="m-override")
    assert "/locations/europe-west4/" in outcome.job_name
    stored = (local_cloud.state_dir / "vertex" / "jobs" / outcome.job_name.rsplit("/", 1)[-1] / "job.json").read_text()
    assert json.loads(stored)["jobSpec"]["scheduling"]["maxWaitDuration"] == "0s"
    assert local_cloud.env["MONGODB_URL"] not in stored
    job = submitter.sent_body(outcome.job_name)
    pool = job.job_spec.worker_pool_specs[0]
    assert job.job_spec.scheduling.timeout.total_seconds() == 604800
    assert (
        pool.machine_spec.machine_type,
        pool.machine_spec.accelerator_type.name,
        pool.machine_spec.accelerator_count,
    ) == (
        "a3-ultragpu-8g",
        "NVIDIA_H200_141GB",
        8,
    )
    assert list(pool.container_spec.args)[-3:] == ["--", "--epochs", "1"]
    assert {e.name: e.value for e in pool.container_spec.env} == {
        "FLEXRUN_MODE": "override",
        "MONGODB_URL_SECRET": "projects/local-project/secrets/mongodb-url/versions/latest",
    }
    # One Artifact Registry repository (GCP_REGION's) serves every region a fallback step may use.
    assert pool.container_spec.image_uri.startswith("us-central1-docker.pkg.dev/local-project/flexrun/trainer:")


@pytest.mark.parametrize(
    "payload, problem",
    [
        ({"gpu": {"type": "NVIDIA_L4"}, "machine_type": "a2-highgpu-1g"}, "cannot carry"),
        ({"gpu": {"type": "T4"}}, "does not serve"),
        ({"gpu": {"type": "H100", "count": 3}}, "no machine type carries 3"),
        ({"timeout": 7 * 24 * 3600 + 1}, "timeout"),
    ],
)
def test_requests_vertex_would_refuse_are_refused_before_any_call(submitter: Submitter, payload, problem):
    run_key = f"it-sub-bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(InvalidRunRequest, match=problem):
        submitter.submit({"run_key": run_key, **payload})
    assert submitter.jobs(run_key) == []


def test_a_thousand_sequential_deliveries_create_one_job(submitter: Submitter):
    actions = [submitter.submit({"run_key": "it-sub-idem-seq"}, message_id="m-seq").action for _ in range(1000)]
    assert actions.count("created") == 1 and actions.count("duplicate") == 999
    assert len(submitter.jobs("it-sub-idem-seq")) == 1


def test_a_thousand_concurrent_deliveries_create_one_job(submitter: Submitter):
    def deliver(_: int) -> str:
        try:
            return submitter.submit({"run_key": "it-sub-idem-par"}, message_id="m-par").action
        except TransientError:
            return "retry"  # nacked: Pub/Sub redelivers it

    with ThreadPoolExecutor(max_workers=32) as pool:
        actions = list(pool.map(deliver, range(1000)))
    redelivered = [deliver(0) for _ in range(actions.count("retry"))]
    assert actions.count("created") == 1
    assert set(actions) <= {"created", "duplicate", "retry"} and set(redelivered) <= {"duplicate"}
    assert len(submitter.jobs("it-sub-idem-par")) == 1
    assert chain.runs_collection(submitter.cloud).count_documents({"run_key": "it-sub-idem-par"}) == 1


def pubsub_event(data_b64: str, event_id: str) -> CloudEvent:
    attributes = {
        "id": event_id,
        "type": PUBSUB_PUBLISHED,
        "source": "//pubsub.googleapis.com/projects/local-project/topics/run-requests",
        "time": datetime.now(timezone.utc).isoformat(),
    }
    body = {"message": {"data": data_b64, "messageId": event_id, "publishTime": attributes["time"]},
            "subscription": "projects/local-project/subscriptions/eventarc-submit-run"}  # fmt: skip
    return CloudEvent(attributes, body)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "data_b64, reason_code, says",
    [
        (b64(b"{not json"), "invalid_event", "not UTF-8 JSON"),
        (b64(b'{"run_key": "it-sub-poison-1", "max_wait": "two hours"}'), "invalid_run_request", "max_wait"),
        (b64(b'{"run_key": "it-sub-poison-2", "gpu": {"type": "NVIDIA_GTX_1080"}}'), "invalid_run_request", "gpu.type"),
        (b64(b'{"run_key": "it-sub-poison-3", "timeout": 604801}'), "invalid_run_request", "timeout"),
        ("!!not*base64", "invalid_event", "message.data is not base64"),
    ],
)
def test_malformed_messages_are_acknowledged_logged_and_recorded(
    local_cloud: LocalCloud, submitter: Submitter, data_b64, reason_code, says
):
    event_id = f"poison-{uuid.uuid4().hex[:12]}"
    headers, body = to_binary(pubsub_event(data_b64, event_id))
    request = urllib.request.Request(local_cloud.function_urls["submit-run"], data=body, headers=dict(headers))
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200  # acknowledged: never redelivered
    rejected = chain.runs_collection(local_cloud).database["rejected_events"].find_one({"event_id": event_id})
    assert rejected["function"] == "submit-run" and rejected["reason_code"] == reason_code
    assert says in rejected["error"]
    log_lines = [json.loads(line) for line in Path(local_cloud.log_path("submit-run")).read_text().splitlines()
                 if event_id in line and line.startswith("{")]  # fmt: skip
    assert any(says in line.get("error", "") for line in log_lines)
    assert submitter.jobs("it-sub-poison-1") == submitter.jobs("it-sub-poison-2") == []


def _continuation(run_key: str, attempt: int, reason: str = "capacity_wait_expired") -> PubsubMessage:
    data = json.dumps({"run_key": run_key, "attempt": attempt, "reason": reason}).encode()
    attributes = {"flexrun_kind": "continuation", "run_key": run_key, "attempt": str(attempt)}
    return PubsubMessage(data, attributes, f"cont-{uuid.uuid4().hex[:8]}", datetime.now(timezone.utc))


def _expire_first_attempt(submitter: Submitter, run_key: str) -> None:
    """Attempt 1 ended as job-state records a DWS expiry (its job is cancelled: nothing waits on)."""
    first = submitter.store.get(run_key, 1)
    submitter.jobs_for_region("us-central1").cancel_custom_job(name=first.job_name)
    expired = RunChanges(
        failure_class="capacity_wait_expired", error=RunError(message="waited the maximum wait duration")
    )
    submitter.store.advance(run_key, 1, RunState.EXPIRED, expired)


def test_a_continuation_message_creates_the_next_attempt_once(submitter: Submitter):
    run_key = "it-sub-continued"
    chain_steps = ["H100@us-central1:FLEX_START~1h", "H100x2@us-central1:FLEX_START~1h"]
    assert submitter.submit({"run_key": run_key, "fallback": chain_steps}).action == "created"
    _expire_first_attempt(submitter, run_key)
    send = lambda: handle_run_request(  # noqa: E731
        _continuation(run_key, 2), settings=submitter.settings, manifest=MANIFEST,
        jobs_for_region=submitter.jobs_for_region, store=submitter.store,
    )  # fmt: skip
    outcomes = [send() for _ in range(3)]
    assert [o.action for o in outcomes] == ["created", "duplicate", "duplicate"]
    second = submitter.store.get(run_key, 2)
    assert (second.gpu_type, second.gpu_count, second.previous_attempt, second.fallback_reason) == (
        "NVIDIA_H100_80GB", 2, 1, "capacity_wait_expired",
    )  # fmt: skip
    jobs = submitter.jobs(run_key)
    assert sorted(j.labels["attempt"] for j in jobs) == ["1", "2"]
    assert all(j.job_spec.service_account == submitter.settings.vertex_ai_service_account for j in jobs)


@pytest.mark.parametrize("problem", ["does not call for", "has no record"])
def test_a_continuation_the_record_does_not_call_for_creates_nothing(submitter: Submitter, problem: str):
    run_key = "it-sub-uncalled" if problem == "does not call for" else "it-sub-never-submitted"
    if problem == "does not call for":  # attempt 1 failed in the trainer: no capacity step can fix that
        submitter.submit({"run_key": run_key, "fallback": ["H100@us-central1:FLEX_START~1h", "STANDARD"]})
        first = submitter.store.get(run_key, 1)
        submitter.jobs_for_region("us-central1").cancel_custom_job(name=first.job_name)
        trainer_error = RunChanges(failure_class="trainer_error", error=RunError(message="non-zero status of 1"))
        submitter.store.advance(run_key, 1, RunState.FAILED, trainer_error)
    with pytest.raises(InvalidRunRequest, match=problem):
        handle_run_request(
            _continuation(run_key, 2), settings=submitter.settings, manifest=MANIFEST,
            jobs_for_region=submitter.jobs_for_region, store=submitter.store,
        )  # fmt: skip
    assert submitter.store.get(run_key, 2) is None
