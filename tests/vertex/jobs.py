"""Building CustomJobs as production code does, and waiting on them."""

from __future__ import annotations

from typing import Any

from google.cloud import aiplatform_v1
from google.protobuf import duration_pb2

from shared.polling import poll
from tests.vertex.conftest import PACKAGE_URI, PARENT, STAGING_BUCKET

TERMINAL = {
    aiplatform_v1.JobState.JOB_STATE_SUCCEEDED,
    aiplatform_v1.JobState.JOB_STATE_FAILED,
    aiplatform_v1.JobState.JOB_STATE_CANCELLED,
}


def custom_job(
    *args: str,
    accelerator: str | None = None,
    flex_start: bool = False,
    max_wait: float | None = None,
    timeout: float | None = None,
    labels: dict[str, str] | None = None,
    output: str | None = None,
    env: dict[str, str] | None = None,
    package_uri: str = PACKAGE_URI,
) -> aiplatform_v1.CustomJob:
    machine = aiplatform_v1.MachineSpec(machine_type="g2-standard-4")
    if accelerator:
        machine.accelerator_type = aiplatform_v1.AcceleratorType[accelerator]
        machine.accelerator_count = 1
    package = aiplatform_v1.PythonPackageSpec(
        executor_image_uri="us-docker.pkg.dev/vertex-ai/training/tf-gpu.2-17.py310:latest",
        package_uris=[package_uri],
        python_module="tinytrainer",
        args=list(args),
        env=[aiplatform_v1.EnvVar(name=k, value=v) for k, v in (env or {}).items()],
    )
    scheduling = aiplatform_v1.Scheduling()
    if flex_start:
        scheduling.strategy = aiplatform_v1.Scheduling.Strategy.FLEX_START
    if max_wait is not None:
        scheduling.max_wait_duration = duration_pb2.Duration(seconds=int(max_wait))
    if timeout is not None:
        scheduling.timeout = duration_pb2.Duration(seconds=int(timeout))
    spec = aiplatform_v1.CustomJobSpec(
        worker_pool_specs=[
            aiplatform_v1.WorkerPoolSpec(machine_spec=machine, replica_count=1, python_package_spec=package)
        ],
        scheduling=scheduling,
    )
    if output:
        spec.base_output_directory = aiplatform_v1.GcsDestination(output_uri_prefix=f"gs://{STAGING_BUCKET}/{output}")
    return aiplatform_v1.CustomJob(display_name="tinytrainer", job_spec=spec, labels=labels or {})


def submit(client: Any, job: aiplatform_v1.CustomJob) -> aiplatform_v1.CustomJob:
    return client.create_custom_job(parent=PARENT, custom_job=job)


def wait_for(client: Any, name: str, states: set[Any] | None = None, timeout: float = 30) -> aiplatform_v1.CustomJob:
    wanted = states or TERMINAL

    def reached() -> aiplatform_v1.CustomJob | None:
        job = client.get_custom_job(name=name)
        return job if job.state in wanted else None

    return poll(reached, timeout=timeout, what=f"{name} to reach {sorted(s.name for s in wanted)}", interval=0.1)


def job_id(job: aiplatform_v1.CustomJob) -> str:
    return str(job.name.rsplit("/", 1)[-1])
