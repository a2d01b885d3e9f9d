"""The REST JobService client: its JSON is the official protos' JSON, and Google's error bodies become
shared.cloud.http's typed errors, which the submit and job-state cores sort (retry, refuse, fall back)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any

import pytest
from google.cloud import aiplatform_v1
from google.protobuf import json_format

from local.standins.vertex import messages
from local.standins.vertex.errors import ApiError as StandInError
from shared.cloud import http
from shared.errors import PermanentError, TransientError
from shared.jobs.api_errors import classify
from shared.jobs.catalog import load_catalog
from shared.jobs.vertex_rest import CustomJob, JobServiceRest, JobState
from shared.runs import failures
from shared.runs.failures import FailureClass

NAME = "projects/p/locations/us-central1/customJobs/123"


class Wire:
    """shared.cloud.http's one network call, answered from a queue; what was sent is kept."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: list[http.Response] = []
        self.calls: list[tuple[str, str, Any]] = []
        monkeypatch.setattr(http, "_send", self.send)

    def answer(self, status: int, body: dict[str, Any]) -> Wire:
        self.answers.append(http.Response(status, {"content-type": "application/json"}, json.dumps(body).encode()))
        return self

    def send(self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float) -> Any:
        self.calls.append((method, url, json.loads(body) if body else None))
        return self.answers.pop(0)


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    return Wire(monkeypatch)


def finished_job() -> aiplatform_v1.CustomJob:
    job = aiplatform_v1.CustomJob(name=NAME, display_name="flexrun-x", labels={"run_key": "x", "attempt": "1"})
    job.state = aiplatform_v1.JobState.JOB_STATE_FAILED
    job.create_time = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
    job.start_time = datetime(2026, 12, 1, 10, 1, 30, 250000, tzinfo=timezone.utc)
    job.end_time = datetime(2026, 12, 1, 10, 31, tzinfo=timezone.utc)
    job.error.code, job.error.message = 8, "The zone does not have enough resources"
    return job


def api_json(job: aiplatform_v1.CustomJob) -> dict[str, Any]:
    """What the REST API sends: the proto's JSON mapping, as json_format writes it."""
    return json_format.MessageToDict(aiplatform_v1.CustomJob.pb(job))


def test_a_job_read_over_rest_has_the_fields_the_generated_client_gives(wire: Wire):
    proto = finished_job()
    wire.answer(200, api_json(proto))
    job = JobServiceRest("http://vertex").get_custom_job(name=NAME)
    assert job.name == proto.name and job.labels == dict(proto.labels)
    assert job.state.name == proto.state.name == "JOB_STATE_FAILED"
    assert job.start_time == proto.start_time and job.end_time == proto.end_time
    assert (job.error.code, job.error.message) == (proto.error.code, proto.error.message)
    assert wire.calls == [("GET", f"http://vertex/v1/{NAME}", None)]


def test_a_job_without_error_reads_as_an_unset_error_like_the_proto():
    job = CustomJob.from_api({"name": NAME, "state": "JOB_STATE_RUNNING"})
    assert not job.error and job.error.message == "" and job.end_time is None
    assert job.state is JobState.JOB_STATE_RUNNING


def test_every_job_state_of_the_api_is_known():
    assert {s.name for s in aiplatform_v1.JobState} == {s.name for s in JobState}


def test_every_catalog_gpu_is_an_accelerator_type_of_the_api():
    assert set(load_catalog()["gpus"]) <= set(aiplatform_v1.AcceleratorType.__members__) - {
        "ACCELERATOR_TYPE_UNSPECIFIED"
    }


def test_create_posts_the_json_body_to_the_parents_collection(wire: Wire):
    wire.answer(200, {"name": NAME, "state": "JOB_STATE_QUEUED"})
    body = {"displayName": "job", "jobSpec": {"workerPoolSpecs": []}}
    job = JobServiceRest("http://vertex:1").create_custom_job(parent="projects/p/locations/l", custom_job=body)
    assert wire.calls == [("POST", "http://vertex:1/v1/projects/p/locations/l/customJobs", body)]
    assert job.name == NAME


def test_cancel_posts_an_empty_body_to_the_jobs_cancel_method(wire: Wire):
    wire.answer(200, {})
    JobServiceRest("http://vertex").cancel_custom_job(name=NAME)
    assert wire.calls == [("POST", f"http://vertex/v1/{NAME}:cancel", {})]


def test_list_follows_every_page_with_the_filter(wire: Wire):
    wire.answer(200, {"customJobs": [{"name": NAME}], "nextPageToken": "t2"})
    wire.answer(200, {"customJobs": [{"name": NAME + "4"}]})
    request = {"parent": "projects/p/locations/l", "filter": 'labels.run_key="x"'}
    names = [job.name for job in JobServiceRest("http://v").list_custom_jobs(request=request)]
    assert names == [NAME, NAME + "4"]
    assert wire.calls[1][1] == (
        "http://v/v1/projects/p/locations/l/customJobs?filter=labels.run_key%3D%22x%22&pageSize=100&pageToken=t2"
    )


def google_error(status: str, message: str) -> tuple[int, dict[str, Any]]:
    """Google's JSON error body as the local Vertex writes it (local/standins/vertex/errors.py)."""
    error = StandInError(status, message)
    return error.http_status, error.body()


@pytest.mark.parametrize(
    ("status", "exception", "flexrun_error"),
    [
        ("RESOURCE_EXHAUSTED", http.TooManyRequests, TransientError),
        ("UNAVAILABLE", http.ServerError, TransientError),
        ("INTERNAL", http.ServerError, TransientError),
        ("DEADLINE_EXCEEDED", http.ServerError, TransientError),
        ("INVALID_ARGUMENT", http.BadRequest, PermanentError),
        ("FAILED_PRECONDITION", http.BadRequest, PermanentError),
        ("NOT_FOUND", http.NotFound, PermanentError),
    ],
)
def test_a_google_error_body_becomes_its_typed_error_and_the_flexrun_error_the_trigger_needs(
    wire: Wire, status: str, exception: type, flexrun_error: type
):
    wire.answer(*google_error(status, "no"))
    with pytest.raises(exception) as caught:
        JobServiceRest("http://v").get_custom_job(name=NAME)
    assert (caught.value.status, caught.value.message) == (status, "no")
    assert isinstance(classify(caught.value, "reading the job"), flexrun_error)


def test_a_quota_429_at_create_is_a_capacity_refusal_not_a_rate_limit(wire: Wire):
    quota = (
        "The following quota metrics exceed quota limits: "
        "aiplatform.googleapis.com/custom_model_training_nvidia_h100_gpus"
    )
    wire.answer(*google_error("RESOURCE_EXHAUSTED", quota))
    with pytest.raises(http.TooManyRequests) as caught:
        JobServiceRest("http://v").create_custom_job(parent="projects/p/locations/l", custom_job={})
    assert caught.value.code == 429 and failures.refusal(caught.value) is FailureClass.QUOTA_EXCEEDED


def test_a_stockout_at_create_is_a_capacity_refusal_and_a_plain_429_or_503_is_retried(wire: Wire):
    wire.answer(*google_error("RESOURCE_EXHAUSTED", messages.stockout("us-central1")))
    wire.answer(*google_error("RESOURCE_EXHAUSTED", "Too many requests, retry later."))
    wire.answer(*google_error("UNAVAILABLE", "The service is currently unavailable."))
    found = []
    for _ in range(3):
        with pytest.raises(http.ApiError) as caught:
            JobServiceRest("http://v").create_custom_job(parent="projects/p/locations/l", custom_job={})
        found.append((failures.refusal(caught.value), type(classify(caught.value, "creating the job"))))
    assert found == [(FailureClass.STOCKOUT, TransientError), (None, TransientError), (None, TransientError)]


def test_no_answer_at_all_is_transient_and_no_capacity_refusal(monkeypatch: pytest.MonkeyPatch):
    def refused(*_: Any) -> Any:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(http, "_send", refused)
    with pytest.raises(ConnectionRefusedError) as caught:
        JobServiceRest("http://v").get_custom_job(name=NAME)
    assert isinstance(classify(caught.value, "reading the job"), TransientError)
    assert failures.refusal(caught.value) is None


def test_the_vertex_path_imports_neither_google_api_core_nor_requests():
    # Both cost a function's first event 50-56 ms (grpc comes with google.api_core.exceptions).
    code = (
        "import sys, shared.jobs.vertex_rest, shared.jobs.api_errors, shared.runs.failures, shared.runs.job_progress;"
        "print(sorted(m for m in ('google.api_core.exceptions', 'requests', 'grpc') if m in sys.modules))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "[]"
