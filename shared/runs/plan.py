"""A run message's resolved plan: which package, which steps of the fallback chain, which job per attempt.

Pure functions of the request, the manifest and the settings: no client, no I/O.
"""

from __future__ import annotations

import datetime as dt

from shared.config.settings import Settings
from shared.errors import NoDeployableVersion, TransientError
from shared.jobs import images
from shared.jobs.catalog import default_machine
from shared.jobs.custom_job import RunPlan
from shared.packages.manifest import Manifest, ManifestEntry
from shared.runs import fallback
from shared.runs.record import RunSpec
from shared.runs.request import RunRequest


def resolve_package(
    request: RunRequest, manifest: Manifest, *, published_at: dt.datetime | None = None, wait_seconds: int = 0
) -> ManifestEntry:
    """The package the run message asks for (a named version, else the deployable one).

    A named version the manifest has no result for may be an upload still being validated: the message
    is retried (TransientError) until `wait_seconds` after `published_at` (its own publish time, so
    every redelivery counts from the same moment), then refused naming the version. A version the
    manifest records only as rejected is refused at once, with the validator's reasons.
    """
    if request.package_version:
        version = request.package_version
        entry = manifest.validated(version)
        if entry is not None:
            return entry
        rejected = [e for e in manifest.entries if e.version == version]
        if rejected:
            reasons = "; ".join(f"{r.code}: {r.message}" for e in rejected[-1:] for r in e.reasons)[:500]
            raise NoDeployableVersion(
                f"version {version} was rejected by validation ({reasons or 'no reason recorded'})"
            )
        waited = (dt.datetime.now(dt.UTC) - published_at).total_seconds() if published_at else None
        if waited is not None and waited < wait_seconds:
            raise TransientError(
                f"version {version} has no validation result yet (it may still be validating): retried until "
                f"{wait_seconds} s after the message was published ({waited:.0f} s so far)"
            )
        raise NoDeployableVersion(
            f"version {version} is not a validated package version: no validation result for it "
            + (f"within {wait_seconds} s of the message's publish time" if published_at else "was recorded")
        )
    entry = manifest.deployable()
    if entry is None:
        raise NoDeployableVersion("no validated package version yet: upload one first")
    return entry


def resolve_steps(request: RunRequest, settings: Settings) -> list[fallback.Resolved]:
    """Every attempt's step: the chain (message's, else configured) with the message's overrides on step 1."""
    steps = (
        fallback.parse_chain(request.fallback)
        if request.fallback is not None
        else fallback.configured_chain(settings.flexrun_fallback_chain)
    )
    defaults = fallback.Resolved(
        gpu_type=settings.vertex_ai_gpu_type,
        gpu_count=settings.vertex_ai_gpu_count,
        machine_type=settings.vertex_ai_machine_type,
        region=settings.gcp_region,
        strategy="FLEX_START",
        max_wait=settings.vertex_ai_max_wait_duration,
    )
    first = steps[0].over(defaults) if steps else defaults
    gpu = request.gpu
    first = fallback.Step(
        gpu_type=gpu.type if gpu else None,
        gpu_count=gpu.count if gpu else None,
        machine_type=request.machine_type
        or (default_machine(gpu.type, gpu.count) if gpu and gpu.type != first.gpu_type else None),
        region=request.region,
        max_wait=request.max_wait,
    ).over(first)
    return fallback.resolve_chain(first, steps, settings.flexrun_fallback_order)


def trainer_secret_refs(settings: Settings) -> dict[str, str]:
    """FLEXRUN_TRAINER_SECRETS `MONGODB_URL=mongodb-url[:VERSION]` → {"MONGODB_URL_SECRET": version name}."""
    refs = {}
    for item in filter(None, (part.strip() for part in settings.flexrun_trainer_secrets.split(","))):
        name, _, secret = item.partition("=")
        if secret.startswith("projects/"):
            refs[f"{name}_SECRET"] = secret
            continue
        secret_id, _, version = secret.partition(":")
        refs[f"{name}_SECRET"] = (
            f"projects/{settings.gcp_project_id}/secrets/{secret_id}/versions/{version or 'latest'}"
        )
    return refs


def job_image(settings: Settings, today: dt.date | None = None) -> images.Image:
    """The configured image (else our trainer image in Artifact Registry); refused past its end of availability."""
    if settings.vertex_ai_executor_image:
        image = images.image_for(settings.vertex_ai_executor_image)
    else:
        image = images.default_image(settings.gcp_project_id, settings.gcp_region, settings.flexrun_image_repository)
    image.check_available(today or dt.datetime.now(dt.UTC).date())
    return image


def make_plan(spec: RunSpec, step: fallback.Resolved, attempt: int, settings: Settings) -> RunPlan:
    """One attempt's plan from what every attempt of the run shares and the attempt's step."""
    run_key = spec.run_key
    image = job_image(settings)
    return RunPlan(
        run_key=run_key,
        attempt=attempt,
        display_name=f"{settings.vertex_ai_job_name}-{run_key}-a{attempt}"[:128],
        package_uri=spec.package_uri,
        package_version=spec.package_version,
        package_sha256=spec.package_sha256,
        # The module the package was validated with (a wrapped script's own); older records have none.
        python_module=spec.package_module or settings.flexrun_trainer_module,
        executor_image=image.uri,
        image_kind=image.kind,
        gpu_type=step.gpu_type,
        gpu_count=step.gpu_count,
        machine_type=step.machine_type,
        region=step.region,
        max_wait_seconds=step.max_wait,
        timeout_seconds=spec.timeout_seconds,
        replica_count=spec.replicas,
        # No trailing slash, as Google's SDK writes base_output_directory: Vertex appends "/model/", and
        # whether it normalises "attempt-1/" + "/model/" is not documented.
        output_uri=f"gs://{settings.staging_bucket}/{settings.flexrun_output_prefix}{run_key}/attempt-{attempt}",
        service_account=settings.vertex_ai_service_account,
        correlation_id=spec.correlation_id,
        args=tuple(spec.args),
        env=dict(spec.env),
        strategy=step.strategy,
        secret_env=trainer_secret_refs(settings),
    )
