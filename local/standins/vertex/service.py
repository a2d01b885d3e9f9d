"""The JobService methods (create, get, list, cancel) over the store, one runner thread per job.

Requests and responses are proto-JSON strings; parsing and printing go through
`aiplatform_v1.CustomJob`, so field names, enums and durations are exactly the API's.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

from google.cloud import aiplatform_v1
from google.protobuf import json_format

from local.standins.vertex import filters, messages
from local.standins.vertex.errors import ApiError
from local.standins.vertex.runner import JobRunner, RunnerContext
from local.standins.vertex.store import TERMINAL_STATES, Job, job_id_of, now_rfc3339
from local.standins.vertex.workload import seconds
from shared.config.logs import log

MAX_TIMEOUT_SECONDS = 7 * 24 * 3600  # DWS: "a maximum timeout of 7 days or less"
DEFAULT_PAGE_SIZE = 100
_OUTPUT_ONLY = ("name", "state", "createTime", "startTime", "endTime", "updateTime", "error", "webAccessUris")


def render(job: Job, enums_as_ints: bool) -> str:
    message = json_format.ParseDict(job, aiplatform_v1.CustomJob.pb(aiplatform_v1.CustomJob()))
    return str(json_format.MessageToJson(message, use_integers_for_enums=enums_as_ints, indent=None))


class JobService:
    def __init__(self, ctx: RunnerContext) -> None:
        self._ctx = ctx
        self._runners: dict[str, JobRunner] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        for job in ctx.store.fail_unfinished(
            "Job failed because the local Vertex service restarted while it was unfinished."
        ):
            log("WARNING", "unfinished job failed after restart", job_id=job_id_of(job))
            ctx.sink.emit(job_id_of(job), "ERROR", job["error"]["message"])  # error text on its own line
            ctx.sink.emit(job_id_of(job), "ERROR", messages.STATE_TEXT["JOB_STATE_FAILED"])

    def create(self, parent: str, body: str) -> Job:
        try:
            message = json_format.Parse(body, aiplatform_v1.CustomJob.pb(aiplatform_v1.CustomJob()))
        except json_format.ParseError as error:
            raise ApiError("INVALID_ARGUMENT", f"Invalid JSON payload received. {error}") from error
        job: Job = json_format.MessageToDict(message)
        _validate(job)
        for field in _OUTPUT_ONLY:
            job.pop(field, None)
        job_id = self._ctx.store.new_id()
        stamp = now_rfc3339()
        job.update(name=f"{parent}/customJobs/{job_id}", state="JOB_STATE_QUEUED", createTime=stamp, updateTime=stamp)
        job = self._ctx.store.add(job)
        log("INFO", "job created", job_id=job_id, labels=job.get("labels", {}), display_name=job["displayName"])
        self._ctx.sink.emit(job_id, "INFO", messages.STATE_TEXT["JOB_STATE_QUEUED"])
        runner = JobRunner(self._ctx, job)
        thread = threading.Thread(target=runner.run, name=f"job-{job_id}", daemon=True)
        with self._lock:
            self._runners[job_id] = runner
            self._threads.append(thread)
        thread.start()
        return job

    def get(self, name: str) -> Job:
        job = self._ctx.store.get(name.rsplit("/", 1)[-1])
        if job is None or job["name"] != name:
            raise ApiError("NOT_FOUND", f'The CustomJob "{name}" does not exist.')
        return job

    def list(self, parent: str, filter_text: str, page_size: int, page_token: str) -> dict[str, Any]:
        matches = filters.parse(filter_text)
        jobs = [j for j in self._ctx.store.all() if j["name"].startswith(parent + "/") and matches(j)]
        try:
            start = int(base64.urlsafe_b64decode(page_token.encode()).decode()) if page_token else 0
        except ValueError as error:
            raise ApiError("INVALID_ARGUMENT", f"Invalid page token: {page_token!r}") from error
        size = page_size if page_size > 0 else DEFAULT_PAGE_SIZE
        page: dict[str, Any] = {"customJobs": jobs[start : start + size]}
        if start + size < len(jobs):
            page["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return page

    def cancel(self, name: str) -> None:
        job = self.get(name)
        if job["state"] in TERMINAL_STATES:
            state = job["state"]
            raise ApiError("FAILED_PRECONDITION", f"Cannot cancel CustomJob {name} in state {state}.")
        with self._lock:
            runner = self._runners.get(job_id_of(job))
        if runner is None:  # unfinished but no runner: only possible mid-restart
            raise ApiError("FAILED_PRECONDITION", f"CustomJob {name} is not running in this service.")
        log("INFO", "cancel requested", job_id=job_id_of(job), state=job["state"])
        runner.cancel()

    def shutdown(self) -> None:
        with self._lock:
            runners = list(self._runners.values())
            threads = list(self._threads)
        for runner in runners:
            runner.shutdown()
        self._ctx.environments.close()
        deadline = time.monotonic() + 10  # one budget for all: a stuck thread must not stall exit
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._ctx.sink.close()


def _validate(job: Job) -> None:
    def invalid(message: str) -> ApiError:
        return ApiError("INVALID_ARGUMENT", message)

    if not job.get("displayName"):
        raise invalid("CustomJob.display_name is required.")
    spec = job.get("jobSpec", {})
    pools = spec.get("workerPoolSpecs", [])
    if not pools or not pools[0]:
        raise invalid("CustomJob.job_spec.worker_pool_specs[0] is required.")
    pool = pools[0]
    if not pool.get("machineSpec", {}).get("machineType"):
        raise invalid("worker_pool_specs[0].machine_spec.machine_type is required.")
    package = pool.get("pythonPackageSpec")
    if package is None and "containerSpec" not in pool:
        raise invalid("worker_pool_specs[0] needs a python_package_spec or a container_spec.")
    if package is None and not pool["containerSpec"].get("imageUri"):
        raise invalid("worker_pool_specs[0].container_spec.image_uri is required.")
    if package is not None:
        for field in ("executorImageUri", "pythonModule", "packageUris"):
            if not package.get(field):
                raise invalid(f"worker_pool_specs[0].python_package_spec.{field} is required.")
    scheduling = spec.get("scheduling", {})
    if "timeout" in scheduling and not 0 < seconds(scheduling["timeout"]) <= MAX_TIMEOUT_SECONDS:
        raise invalid(f"scheduling.timeout must be more than 0s and at most 7 days ({MAX_TIMEOUT_SECONDS}s).")
    if "maxWaitDuration" in scheduling and seconds(scheduling["maxWaitDuration"]) < 0:
        raise invalid("scheduling.max_wait_duration must not be negative.")
