"""The REST surface: listing with label filters, validation errors, missing jobs, injected faults, read by the
official client (google.api_core exceptions) and by flexrun's own (shared.cloud.http errors)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1
from google.protobuf import json_format

from shared.cloud import http
from shared.jobs.vertex_rest import JobServiceRest
from tests.vertex.conftest import PARENT, LocalVertex
from tests.vertex.jobs import custom_job, submit

pytestmark = pytest.mark.integration


def test_list_filters_on_labels_and_pages_through_results(vertex: LocalVertex) -> None:
    client = vertex.client()
    run_key = uuid.uuid4().hex[:8]
    mine = [submit(client, custom_job(labels={"run_key": run_key, "attempt": str(i)})) for i in range(3)]
    submit(client, custom_job(labels={"run_key": "someone-else"}))

    request = {"parent": PARENT, "filter": f'labels.run_key="{run_key}"', "page_size": 2}
    pager = client.list_custom_jobs(request=request)
    pages = list(pager.pages)
    found = [job.name for page in pages for job in page.custom_jobs]

    assert sorted(found) == sorted(job.name for job in mine)
    assert len(pages) == 2
    # `filter` is not a flattened argument of list_custom_jobs: it goes in the request.
    both = client.list_custom_jobs(
        request={"parent": PARENT, "filter": f'labels.run_key="{run_key}" AND labels.attempt="1"'}
    )
    assert [job.name for job in both] == [mine[1].name]


def test_job_without_package_or_container_is_invalid(vertex: LocalVertex) -> None:
    job = custom_job()
    job.job_spec.worker_pool_specs[0].python_package_spec = aiplatform_v1.PythonPackageSpec()
    job.job_spec.worker_pool_specs[0]._pb.ClearField("python_package_spec")

    with pytest.raises(exceptions.BadRequest) as refused:
        submit(vertex.client(), job)

    assert refused.value.response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_timeout_over_seven_days_is_invalid(vertex: LocalVertex) -> None:
    with pytest.raises(exceptions.BadRequest, match="7 days"):
        submit(vertex.client(), custom_job(timeout=8 * 24 * 3600))


def test_unknown_job_is_not_found(vertex: LocalVertex) -> None:
    with pytest.raises(exceptions.NotFound):
        vertex.client().get_custom_job(name=f"{PARENT}/customJobs/123456789012345678")


@pytest.mark.parametrize(
    ("status", "raised"), [(503, exceptions.ServiceUnavailable), (429, exceptions.TooManyRequests)]
)
def test_injected_fault_reaches_the_client_as_its_exception(vertex: LocalVertex, status: int, raised: type) -> None:
    client = vertex.client()
    vertex.admin("faults", {"status": status, "count": 2})

    for _ in range(2):
        with pytest.raises(raised):
            submit(client, custom_job())

    assert list(client.list_custom_jobs(request={"parent": PARENT, "filter": 'labels.run_key="none"'})) == []


def test_flexruns_rest_client_reads_the_stand_ins_errors_as_googles(vertex: LocalVertex) -> None:
    """shared/jobs/vertex_rest.py (what the functions use) gets the typed error and Google's status name."""
    jobs = JobServiceRest(vertex.url)
    with pytest.raises(http.NotFound) as missing:
        jobs.get_custom_job(name=f"{PARENT}/customJobs/123456789012345678")
    with pytest.raises(http.BadRequest, match="7 days") as invalid:
        jobs.create_custom_job(parent=PARENT, custom_job=proto_json(custom_job(timeout=8 * 24 * 3600)))
    vertex.admin("faults", {"status": 503, "count": 1})
    with pytest.raises(http.ServerError) as unavailable:
        jobs.create_custom_job(parent=PARENT, custom_job=proto_json(custom_job()))

    assert (missing.value.status, invalid.value.status) == ("NOT_FOUND", "INVALID_ARGUMENT")
    assert (unavailable.value.code, unavailable.value.status, unavailable.value.retryable) == (503, "UNAVAILABLE", True)


def proto_json(job: aiplatform_v1.CustomJob) -> dict[str, Any]:
    return json_format.MessageToDict(aiplatform_v1.CustomJob.pb(job))
