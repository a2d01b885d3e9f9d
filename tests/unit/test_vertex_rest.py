"""The REST JobService client: its JSON is the official protos' JSON, its errors the generated client's."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import aiplatform_v1
from google.protobuf import json_format

from shared.errors import PermanentError, TransientError
from shared.jobs.api_errors import classify
from shared.jobs.catalog import load_catalog
from shared.jobs.vertex_rest import CustomJob, JobServiceRest, JobState

NAME = "projects/p/locations/us-central1/customJobs/123"


class Response:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status_code, self._body = status, body
        self.content = json.dumps(body).encode()
        self.text = self.content.decode()
        self.headers: dict[str, str] = {"content-type": "application/json"}
        self.request = type("Request", (), {"method": "GET", "url": "http://vertex/v1/x"})()

    def json(self) -> dict[str, Any]:
        return self._body


class Session:
    """What JobServiceRest asks of a requests session; answers are queued per call."""

    def __init__(self, *answers: Response) -> None:
        self.answers, self.calls = list(answers), []

    def request(self, method: str, url: str, **kwargs: Any) -> Response:
        self.calls.append((method, url, kwargs))
        return self.answers.pop(0)


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


def test_a_job_read_over_rest_has_the_fields_the_generated_client_gives():
    proto = finished_job()
    job = JobServiceRest("http://vertex", Session(Response(200, api_json(proto)))).get_custom_job(name=NAME)
    assert job.name == proto.name and job.labels == dict(proto.labels)
    assert job.state.name == proto.state.name == "JOB_STATE_FAILED"
    assert job.start_time == proto.start_time and job.end_time == proto.end_time
    assert (job.error.code, job.error.message) == (proto.error.code, proto.error.message)


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


def test_create_posts_the_json_body_to_the_parents_collection():
    session = Session(Response(200, {"name": NAME, "state": "JOB_STATE_QUEUED"}))
    body = {"displayName": "job", "jobSpec": {"workerPoolSpecs": []}}
    job = JobServiceRest("http://vertex:1", session).create_custom_job(parent="projects/p/locations/l", custom_job=body)
    method, url, kwargs = session.calls[0]
    assert (method, url, kwargs["json"]) == ("POST", "http://vertex:1/v1/projects/p/locations/l/customJobs", body)
    assert job.name == NAME


def test_list_follows_every_page_with_the_filter():
    session = Session(
        Response(200, {"customJobs": [{"name": NAME}], "nextPageToken": "t2"}),
        Response(200, {"customJobs": [{"name": NAME + "4"}]}),
    )
    request = {"parent": "projects/p/locations/l", "filter": 'labels.run_key="x"'}
    names = [job.name for job in JobServiceRest("http://v", session).list_custom_jobs(request=request)]
    assert names == [NAME, NAME + "4"]
    assert session.calls[1][2]["params"] == {"filter": 'labels.run_key="x"', "pageSize": "100", "pageToken": "t2"}


@pytest.mark.parametrize(
    ("status", "exception", "flexrun_error"),
    [(429, gexc.TooManyRequests, TransientError), (503, gexc.ServiceUnavailable, TransientError),
     (400, gexc.BadRequest, PermanentError), (404, gexc.NotFound, PermanentError)],
)  # fmt: skip
def test_http_errors_become_the_generated_clients_exceptions(status, exception, flexrun_error):
    error = {"error": {"code": status, "message": "no", "status": "X"}}
    with pytest.raises(exception) as caught:
        JobServiceRest("http://v", Session(Response(status, error))).get_custom_job(name=NAME)
    assert isinstance(classify(caught.value, "reading the job"), flexrun_error)
