"""A resolved run plan → the Vertex AI CustomJob that runs it on DWS flex-start GPUs.

Built with `google.cloud.aiplatform_v1` directly: the high-level SDK's training classes drop
`max_wait_duration=0`, and the low-level module is much lighter to import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.catalog import canonical_gpu
from shared.errors import InvalidRunRequest
from shared.run_request import label_value

if TYPE_CHECKING:
    from google.cloud import aiplatform_v1


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

    @property
    def labels(self) -> dict[str, str]:
        return {
            "flexrun": "run",
            "run_key": self.run_key,
            "attempt": str(self.attempt),
            "package_version": label_value(self.package_version),
            "correlation_id": label_value(self.correlation_id),
        }


def accelerator_name(gpu_type: str) -> str:
    from google.cloud import aiplatform_v1

    name = canonical_gpu(gpu_type)
    if name not in aiplatform_v1.AcceleratorType.__members__ or name == "ACCELERATOR_TYPE_UNSPECIFIED":
        raise InvalidRunRequest(f"unknown GPU type {gpu_type!r}")
    return name


def build_custom_job(plan: RunPlan) -> aiplatform_v1.CustomJob:
    from google.cloud import aiplatform_v1
    from google.protobuf import duration_pb2

    package = aiplatform_v1.PythonPackageSpec(
        executor_image_uri=plan.executor_image,
        package_uris=[plan.package_uri],
        python_module=plan.python_module,
        args=list(plan.args),
        env=[aiplatform_v1.EnvVar(name=k, value=v) for k, v in sorted(plan.env.items())],
    )
    machine = aiplatform_v1.MachineSpec(
        machine_type=plan.machine_type,
        accelerator_type=aiplatform_v1.AcceleratorType[accelerator_name(plan.gpu_type)],
        accelerator_count=plan.gpu_count,
    )
    scheduling = aiplatform_v1.Scheduling(
        strategy=aiplatform_v1.Scheduling.Strategy[plan.strategy],
        timeout=duration_pb2.Duration(seconds=plan.timeout_seconds),
        max_wait_duration=duration_pb2.Duration(seconds=plan.max_wait_seconds),
    )
    spec = aiplatform_v1.CustomJobSpec(
        worker_pool_specs=[
            aiplatform_v1.WorkerPoolSpec(machine_spec=machine, replica_count=1, python_package_spec=package)
        ],
        scheduling=scheduling,
        base_output_directory=aiplatform_v1.GcsDestination(output_uri_prefix=plan.output_uri),
    )
    if plan.service_account:
        spec.service_account = plan.service_account
    return aiplatform_v1.CustomJob(display_name=plan.display_name, job_spec=spec, labels=plan.labels)
