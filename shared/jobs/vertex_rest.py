"""Vertex AI's JobService (CustomJobs) over its REST API, with google-auth and JSON.

Why not `google.cloud.aiplatform_v1.JobServiceClient`: importing that module loads every service and
message type of the whole Vertex API, 2.3 s on a quiet 2-core machine, which is more than four
hello-world cold starts; submit-run and job-state call four methods of one service (bench/cold_start.py
measures it). The REST surface is the documented one, `projects.locations.customJobs` create / get /
list / cancel (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.customJobs),
and its bodies are the protos' JSON mapping (camelCase names, enums as names, int64 as strings,
Duration as "3600s"). tests/unit/test_vertex_rest.py parses what we send and what we read with
aiplatform_v1's own types (`json_format`, unknown fields refused), so a misspelt field fails there and
not in production. Errors become google.api_core exceptions (`from_http_response`), the same types the
generated client raises, so shared/jobs/api_errors.py sorts them unchanged.

The method names and keyword arguments are the generated client's, so the callers and the tests'
fakes of that client are interchangeable with this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TIMEOUT_SECONDS = (
    60.0  # the generated client's default for JobService calls is 5-60 s; a hung call is retried by redelivery
)


class JobState(StrEnum):
    """google.cloud.aiplatform.v1.JobState, by name (the REST API sends the name)."""

    JOB_STATE_UNSPECIFIED = "JOB_STATE_UNSPECIFIED"
    JOB_STATE_QUEUED = "JOB_STATE_QUEUED"
    JOB_STATE_PENDING = "JOB_STATE_PENDING"
    JOB_STATE_RUNNING = "JOB_STATE_RUNNING"
    JOB_STATE_SUCCEEDED = "JOB_STATE_SUCCEEDED"
    JOB_STATE_FAILED = "JOB_STATE_FAILED"
    JOB_STATE_CANCELLING = "JOB_STATE_CANCELLING"
    JOB_STATE_CANCELLED = "JOB_STATE_CANCELLED"
    JOB_STATE_PAUSED = "JOB_STATE_PAUSED"
    JOB_STATE_EXPIRED = "JOB_STATE_EXPIRED"
    JOB_STATE_UPDATING = "JOB_STATE_UPDATING"
    JOB_STATE_PARTIALLY_SUCCEEDED = "JOB_STATE_PARTIALLY_SUCCEEDED"


class Status(BaseModel):
    """google.rpc.Status: `code` 0 and no message when the job has no error (as an unset proto field)."""

    model_config = ConfigDict(extra="ignore")
    code: int = 0
    message: str = ""

    def __bool__(self) -> bool:
        return bool(self.code or self.message)


class CustomJob(BaseModel):
    """The fields of a CustomJob flexrun reads; the rest of the resource is kept in `raw`."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    name: str
    display_name: str = Field("", alias="displayName")
    state: JobState = JobState.JOB_STATE_UNSPECIFIED
    labels: dict[str, str] = Field(default_factory=dict)
    create_time: datetime | None = Field(None, alias="createTime")
    start_time: datetime | None = Field(None, alias="startTime")
    end_time: datetime | None = Field(None, alias="endTime")
    error: Status = Field(default_factory=Status)
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> CustomJob:
        return cls.model_validate({**body, "raw": body})


class JobServiceRest:
    """`create_custom_job`, `get_custom_job`, `list_custom_jobs`, `cancel_custom_job` of one regional endpoint."""

    def __init__(self, endpoint: str, session: Any | None = None) -> None:
        self.base = endpoint.rstrip("/") if endpoint.startswith(("http://", "https://")) else f"https://{endpoint}"
        self._session = session if session is not None else _session(self.base)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        from google.api_core import exceptions

        response = self._session.request(method, f"{self.base}/v1/{path}", timeout=TIMEOUT_SECONDS, **kwargs)
        if response.status_code >= 400:
            raise exceptions.from_http_response(response)
        return response.json() if response.content else {}

    def create_custom_job(self, *, parent: str, custom_job: dict[str, Any]) -> CustomJob:
        return CustomJob.from_api(self._call("POST", f"{parent}/customJobs", json=custom_job))

    def get_custom_job(self, *, name: str) -> CustomJob:
        return CustomJob.from_api(self._call("GET", name))

    def cancel_custom_job(self, *, name: str) -> None:
        self._call("POST", f"{name}:cancel", json={})

    def list_custom_jobs(self, *, request: dict[str, str]) -> Iterator[CustomJob]:
        """Every job matching `request["filter"]` under `request["parent"]`, page after page."""
        params = {"filter": request.get("filter", ""), "pageSize": "100"}
        while True:
            page = self._call("GET", f"{request['parent']}/customJobs", params=params)
            yield from (CustomJob.from_api(job) for job in page.get("customJobs", []))
            if not page.get("nextPageToken"):
                return
            params["pageToken"] = page["nextPageToken"]


def _session(base: str) -> Any:
    """A plain session for a local http:// stand-in (no credentials); else ADC with the cloud-platform scope."""
    if base.startswith("http://"):
        import requests

        return requests.Session()
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=[SCOPE])
    return AuthorizedSession(credentials)
