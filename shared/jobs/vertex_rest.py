"""Vertex AI's JobService (CustomJobs) over its REST API, with google-auth and JSON.

Why not `google.cloud.aiplatform_v1.JobServiceClient`: importing that module loads every service and
message type of the whole Vertex API, 2.3 s on a quiet 2-core machine, which is more than four
hello-world cold starts; submit-run and job-state call four methods of one service (bench/cold_start.py
measures it). The REST surface is the documented one, `projects.locations.customJobs` create / get /
list / cancel (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.customJobs),
and its bodies are the protos' JSON mapping (camelCase names, enums as names, int64 as strings,
Duration as "3600s"). tests/unit/test_vertex_rest.py parses what we send and what we read with
aiplatform_v1's own types (`json_format`, unknown fields refused), so a misspelt field fails there and
not in production.

The wire is shared/cloud/http.JsonApi (http.client; ADC only for an https endpoint), not requests and
google.api_core: those cost 50 ms and 56 ms (grpc) of the first event. Errors are its typed
`ApiError`s, one per HTTP status (TooManyRequests, ServerError, NotFound, ...) with Google's error
body read into `message` and `status`; shared/jobs/api_errors.py and shared/runs/failures.refusal sort
them. OSError (or http.client.HTTPException) means nothing answered.

The method names and keyword arguments are the generated client's, so the callers and the tests'
fakes of that client are interchangeable with this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.cloud.http import JsonApi

# The generated client's default for JobService calls is 5-60 s; a hung call is retried by redelivery.
TIMEOUT_SECONDS = 60.0


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
    labels: dict[str, str] = {}
    create_time: datetime | None = Field(None, alias="createTime")
    start_time: datetime | None = Field(None, alias="startTime")
    end_time: datetime | None = Field(None, alias="endTime")
    error: Status = Field(default_factory=Status)
    raw: dict[str, Any] = Field({}, exclude=True)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> CustomJob:
        return cls.model_validate({**body, "raw": body})


class JobServiceRest:
    """`create_custom_job`, `get_custom_job`, `list_custom_jobs`, `cancel_custom_job` of one regional endpoint.

    An `http://` endpoint (the local stand-in) is called without credentials, an https one with ADC's
    cloud-platform token (JsonApi decides); `api` replaces the wire in tests."""

    def __init__(self, endpoint: str, api: JsonApi | None = None) -> None:
        self.base = endpoint.rstrip("/") if endpoint.startswith(("http://", "https://")) else f"https://{endpoint}"
        self._api = api if api is not None else JsonApi(self.base, timeout=TIMEOUT_SECONDS)

    def _call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, json_body: Any = None
    ) -> dict[str, Any]:
        answer = self._api.request(method, f"v1/{path}", params=params, json_body=json_body).json()
        return answer if isinstance(answer, dict) else {}

    def create_custom_job(self, *, parent: str, custom_job: dict[str, Any]) -> CustomJob:
        return CustomJob.from_api(self._call("POST", f"{parent}/customJobs", json_body=custom_job))

    def get_custom_job(self, *, name: str) -> CustomJob:
        return CustomJob.from_api(self._call("GET", name))

    def cancel_custom_job(self, *, name: str) -> None:
        self._call("POST", f"{name}:cancel", json_body={})

    def list_custom_jobs(self, *, request: dict[str, str]) -> Iterator[CustomJob]:
        """Every job matching `request["filter"]` under `request["parent"]`, page after page."""
        params = {"filter": request.get("filter", ""), "pageSize": "100"}
        while True:
            page = self._call("GET", f"{request['parent']}/customJobs", params=params)
            yield from (CustomJob.from_api(job) for job in page.get("customJobs", []))
            if not page.get("nextPageToken"):
                return
            params["pageToken"] = page["nextPageToken"]
