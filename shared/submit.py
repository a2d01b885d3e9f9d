"""Run message → one Vertex AI CustomJob on DWS flex-start, exactly once per run_key.

Dedupe key: run_key (+ attempt). The claim is a unique insert in the run store; a job already carrying
the run_key label (a crash after create, before the record was updated) is adopted, not duplicated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import logs
from shared.catalog import check_gpu_machine
from shared.errors import NoDeployableVersion, PermanentError
from shared.events import PubsubMessage
from shared.jobspec import RunPlan, build_custom_job
from shared.manifest import Manifest, ManifestEntry
from shared.run_request import RunRequest, default_run_key, parse_run_request
from shared.runs import RunState
from shared.settings import Settings
from shared.store import RunStore
from shared.vertex_errors import classify


@dataclass(frozen=True)
class SubmitOutcome:
    action: str  # "created" | "adopted" | "duplicate"
    run_key: str
    job_name: str


def _resolve_package(request: RunRequest, manifest: Manifest) -> ManifestEntry:
    if request.package_version:
        entry = manifest.validated(request.package_version)
        if entry is None:
            raise NoDeployableVersion(f"version {request.package_version} is not a validated package version")
        return entry
    entry = manifest.deployable()
    if entry is None:
        raise NoDeployableVersion("no validated package version yet: upload one first")
    return entry


def plan_run(request: RunRequest, message: PubsubMessage, manifest: Manifest, settings: Settings) -> RunPlan:
    run_key = request.run_key or default_run_key(message)
    package = _resolve_package(request, manifest)
    gpu_type = request.gpu.type if request.gpu else settings.vertex_ai_gpu_type
    gpu_count = request.gpu.count if request.gpu else settings.vertex_ai_gpu_count
    machine_type = request.machine_type or settings.vertex_ai_machine_type
    check_gpu_machine(gpu_type, machine_type)
    return RunPlan(
        run_key=run_key,
        attempt=1,
        display_name=f"{settings.vertex_ai_job_name}-{run_key}"[:128],
        package_uri=package.uri,
        package_version=package.version,
        package_sha256=package.sha256,
        python_module=settings.flexrun_trainer_module,
        executor_image=settings.vertex_ai_executor_image,
        gpu_type=gpu_type,
        gpu_count=gpu_count,
        machine_type=machine_type,
        region=request.region or settings.gcp_region,
        max_wait_seconds=settings.vertex_ai_max_wait_duration if request.max_wait is None else request.max_wait,
        timeout_seconds=request.timeout or settings.vertex_ai_timeout,
        output_uri=f"gs://{settings.staging_bucket}/{settings.flexrun_output_prefix}{run_key}/attempt-1/",
        service_account=settings.vertex_ai_service_account,
        correlation_id=message.attributes.get("correlation_id") or message.message_id or run_key,
        args=tuple(request.args),
        env=dict(request.env),
    )


def _record_fields(plan: RunPlan, request: RunRequest, message: PubsubMessage) -> dict[str, Any]:
    return {
        "package_version": plan.package_version,
        "package_sha256": plan.package_sha256,
        "package_uri": plan.package_uri,
        "gpu_type": plan.gpu_type,
        "gpu_count": plan.gpu_count,
        "machine_type": plan.machine_type,
        "region": plan.region,
        "strategy": plan.strategy,
        "max_wait_seconds": plan.max_wait_seconds,
        "timeout_seconds": plan.timeout_seconds,
        "output_uri": plan.output_uri,
        "correlation_id": plan.correlation_id,
        "requested_by": request.requested_by or message.attributes.get("requested_by"),
        "reason": request.reason,
        "published_at": message.publish_time,
        "trigger": "schedule" if message.attributes.get("schedule") else "message",
    }


def _find_job_by_run_key(jobs: Any, parent: str, run_key: str, attempt: int) -> Any | None:
    try:
        found = jobs.list_custom_jobs(
            request={"parent": parent, "filter": f'labels.run_key="{run_key}" AND labels.attempt="{attempt}"'}
        )
        return next(iter(found), None)
    except Exception as exc:
        raise classify(exc, "listing jobs") from exc


def handle_run_request(
    message: PubsubMessage, *, settings: Settings, manifest: Manifest, jobs_for_region: Any, store: RunStore
) -> SubmitOutcome:
    request = parse_run_request(message)
    plan = plan_run(request, message, manifest, settings)
    logs.bind(run_key=plan.run_key, correlation_id=plan.correlation_id)
    record, created = store.claim(plan.run_key, plan.attempt, _record_fields(plan, request, message))
    if record.get("job_name"):
        logs.info("run already submitted; duplicate message acknowledged", job_name=record["job_name"])
        return SubmitOutcome("duplicate", plan.run_key, record["job_name"])

    parent = f"projects/{settings.gcp_project_id}/locations/{plan.region}"
    jobs = jobs_for_region(plan.region)
    job = _find_job_by_run_key(jobs, parent, plan.run_key, plan.attempt)
    action = "adopted"
    if job is None:
        try:
            job = jobs.create_custom_job(parent=parent, custom_job=build_custom_job(plan))
        except Exception as exc:
            error = classify(exc, "creating the job")
            if isinstance(error, PermanentError):
                store.advance(
                    plan.run_key,
                    plan.attempt,
                    RunState.FAILED,
                    {"error": {"message": str(error)}, "failure_class": "submit_refused"},
                )
            raise error from exc
        action = "created"
    job_id = job.name.rsplit("/", 1)[-1]
    store.attach_job(
        plan.run_key, plan.attempt, {"job_name": job.name, "job_id": job_id, "created_at": job.create_time or None}
    )
    store.advance(plan.run_key, plan.attempt, RunState.QUEUED, {})
    logs.notice(
        f"job {action}",
        job_name=job.name,
        gpu_type=plan.gpu_type,
        machine_type=plan.machine_type,
        package_version=plan.package_version,
        max_wait_seconds=plan.max_wait_seconds,
        claimed_now=created,
    )
    return SubmitOutcome(action, plan.run_key, job.name)
