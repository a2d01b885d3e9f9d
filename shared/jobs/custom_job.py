"""A resolved run plan → the Vertex AI CustomJob that runs it on DWS flex-start GPUs.

Built as the REST API's JSON (the CustomJob proto's JSON mapping), sent by shared/jobs/vertex_rest.py:
`google.cloud.aiplatform_v1` costs 2.3 s of cold start to import (see there), and the high-level SDK's
training classes drop `maxWaitDuration: "0s"`. tests/unit/test_jobspec.py parses every job built here
with aiplatform_v1's own `CustomJob` type, unknown fields refused, so the JSON cannot drift from the API.

The worker pools run either our trainer image with `ContainerSpec` (the default: no `command`, so the image's
entry point, image/launcher.py, gets the launcher arguments and fetches, checks and installs the package), or
a Vertex prebuilt image with `PythonPackageSpec` (only for one the catalog lists as available; see
shared/jobs/images.py).

Secrets: a CustomJob's `ContainerSpec.env` / `PythonPackageSpec.env` holds only plain `EnvVar(name, value)`
pairs (aiplatform_v1's `SecretEnvVar` exists for Agent Engine, not for CustomJob), so a secret can never be
handed over by reference the way Cloud Run does it. The job therefore carries `<NAME>_SECRET` = the Secret Manager
secret *version resource name*, and the trainer, running as the job's service account with
`roles/secretmanager.secretAccessor`, reads the value itself. No secret value is in the job spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.config.settings import MAX_TIMEOUT_SECONDS
from shared.errors import InvalidRunRequest
from shared.jobs.catalog import canonical_gpu, load_catalog
from shared.jobs.images import ImageKind
from shared.runs.request import MAX_REPLICAS, label_value

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class RunPlan:
    run_key: str
    attempt: int
    display_name: str
    package_uri: str
    package_version: str
    package_sha256: str
    python_module: str
    executor_image: str
    gpu_type: str
    gpu_count: int
    machine_type: str
    region: str
    max_wait_seconds: int
    timeout_seconds: int
    output_uri: str
    service_account: str | None
    correlation_id: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    strategy: str = "FLEX_START"
    replica_count: int = 1  # machines training one model: pool 0 holds the chief, pool 1 the rest
    image_kind: ImageKind = ImageKind.CONTAINER  # CONTAINER: our image + launcher; PREBUILT: PythonPackageSpec
    secret_env: dict[str, str] = field(default_factory=dict)  # NAME_SECRET → projects/…/secrets/…/versions/…

    @property
    def labels(self) -> dict[str, str]:
        return {
            "flexrun": "run",
            "run_key": self.run_key,
            "attempt": str(self.attempt),
            "strategy": self.strategy.lower(),
            "package_version": label_value(self.package_version),
            "correlation_id": label_value(self.correlation_id),
        }


def accelerator_name(gpu_type: str) -> str:
    """The AcceleratorType name of a GPU the catalog lists (tests/unit/test_jobspec.py checks each
    catalog name against aiplatform_v1.AcceleratorType, so this needs no import of it)."""
    name = canonical_gpu(gpu_type)
    if name not in load_catalog()["gpus"]:
        raise InvalidRunRequest(f"unknown GPU type {gpu_type!r}")
    return name


def check_limits(plan: RunPlan) -> None:
    """Values outside Vertex's documented limits, refused before the call."""
    if not 0 < plan.timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise InvalidRunRequest(f"timeout must be 1 s to 7 days (DWS limit), not {plan.timeout_seconds} s")
    if plan.max_wait_seconds < 0:
        raise InvalidRunRequest("max_wait must not be negative (0 = wait without limit)")
    if not 1 <= plan.replica_count <= MAX_REPLICAS:
        raise InvalidRunRequest(f"replicas must be 1 to {MAX_REPLICAS}, not {plan.replica_count}")
    if not 1 <= plan.gpu_count <= 16:
        raise InvalidRunRequest(f"gpu count must be 1 to 16, not {plan.gpu_count}")
    clash = set(plan.env) & set(plan.secret_env)
    if clash:
        raise InvalidRunRequest(f"env {sorted(clash)} would shadow secret references")


def launcher_args(plan: RunPlan) -> list[str]:
    """image/launcher.py's arguments: the package (the manifest's deployable copy and its sha256), then the module."""
    return [
        f"--package-uri={plan.package_uri}",
        f"--package-sha256={plan.package_sha256}",
        f"--module={plan.python_module}",
        "--",
        *plan.args,
    ]


def _duration(seconds: int) -> str:
    return f"{seconds}s"  # google.protobuf.Duration in JSON


def worker_pools(plan: RunPlan, machine: JsonObject) -> list[JsonObject]:
    """Pool 0: the chief (one replica, Vertex's rule for the primary pool); pool 1: the other replicas.

    Both pools get the same machine spec and the same image: DWS requires "the same machine configuration
    in every worker pool" (google-facts.md, training/schedule-jobs-dws), and MultiWorkerMirroredStrategy
    wants equal replicas anyway. Vertex then sets TF_CONFIG (chief / worker) in each replica (google-facts.md)."""
    env = [{"name": k, "value": v} for k, v in sorted({**plan.env, **plan.secret_env}.items())]

    def pool(replicas: int) -> JsonObject:
        spec: JsonObject = {"machineSpec": machine, "replicaCount": str(replicas)}  # int64: a string in JSON
        if plan.image_kind is ImageKind.CONTAINER:
            spec["containerSpec"] = {"imageUri": plan.executor_image, "args": launcher_args(plan), "env": env}
        else:
            spec["pythonPackageSpec"] = {
                "executorImageUri": plan.executor_image,
                "packageUris": [plan.package_uri],
                "pythonModule": plan.python_module,
                "args": list(plan.args),
                "env": env,
            }
        return spec

    return [pool(1), pool(plan.replica_count - 1)] if plan.replica_count > 1 else [pool(1)]


def build_custom_job(plan: RunPlan) -> JsonObject:
    """The CustomJob resource of `plan`, as the body of `customJobs.create`."""
    check_limits(plan)
    machine = {
        "machineType": plan.machine_type,
        "acceleratorType": accelerator_name(plan.gpu_type),
        "acceleratorCount": plan.gpu_count,
    }
    scheduling: JsonObject = {"strategy": plan.strategy, "timeout": _duration(plan.timeout_seconds)}
    if plan.strategy == "FLEX_START":  # only DWS waits; 0 is sent as "0s" and means "wait without limit"
        scheduling["maxWaitDuration"] = _duration(plan.max_wait_seconds)
    spec: JsonObject = {
        "workerPoolSpecs": worker_pools(plan, machine),
        "scheduling": scheduling,
        "baseOutputDirectory": {"outputUriPrefix": plan.output_uri},
    }
    if plan.service_account:
        spec["serviceAccount"] = plan.service_account
    return {"displayName": plan.display_name, "jobSpec": spec, "labels": plan.labels}
