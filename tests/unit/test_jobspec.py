"""The CustomJob flexrun submits: our image + launcher, FLEX_START, max wait (0 kept), timeout, labels, outputs."""

from __future__ import annotations

import json

import pytest
from google.cloud import aiplatform_v1

from shared.errors import InvalidRunRequest
from shared.jobs.catalog import check_gpu_machine
from shared.jobs.custom_job import RunPlan, build_custom_job
from shared.jobs.images import ImageKind


def built(plan: RunPlan) -> aiplatform_v1.CustomJob:
    """The JSON body flexrun sends, read by aiplatform_v1's own CustomJob type: a field name or value
    the API does not define fails here (from_json refuses unknown fields)."""
    return aiplatform_v1.CustomJob.from_json(json.dumps(build_custom_job(plan)))


def plan(**changes) -> RunPlan:
    values = dict(
        run_key="nightly-20261127t0100",
        attempt=1,
        display_name="job",
        package_uri="gs://b/packages/p-0.1.0.tar.gz",
        package_version="0.1.0",
        package_sha256="ab" * 32,
        python_module="flexrun_trainer.task",
        executor_image="us-central1-docker.pkg.dev/p/flexrun/trainer:tag",
        gpu_type="NVIDIA_L4",
        gpu_count=1,
        machine_type="g2-standard-4",
        region="us-central1",
        max_wait_seconds=1800,
        timeout_seconds=3600,
        output_uri="gs://s/runs/x/attempt-1",
        service_account="sa@p.iam.gserviceaccount.com",
        correlation_id="Msg 77",
        args=("--epochs", "2"),
        env={"FLEXRUN_MODE": "demo"},
    )
    values.update(changes)
    return RunPlan(**values)


def test_job_uses_flex_start_with_max_wait_and_timeout():
    job = built(plan())
    scheduling = job.job_spec.scheduling
    assert scheduling.strategy == aiplatform_v1.Scheduling.Strategy.FLEX_START
    assert scheduling.max_wait_duration.total_seconds() == 1800 and scheduling.timeout.total_seconds() == 3600


def test_zero_max_wait_survives_serialisation():
    job = built(plan(max_wait_seconds=0))
    as_json = json.loads(aiplatform_v1.CustomJob.to_json(job))
    assert as_json["jobSpec"]["scheduling"]["maxWaitDuration"] == "0s"


def test_gpu_and_outputs_are_set():
    spec = built(plan()).job_spec
    pool = spec.worker_pool_specs[0]
    assert pool.machine_spec.accelerator_type == aiplatform_v1.AcceleratorType.NVIDIA_L4
    assert spec.base_output_directory.output_uri_prefix == "gs://s/runs/x/attempt-1"
    assert spec.service_account == "sa@p.iam.gserviceaccount.com"


def test_our_image_runs_the_launcher_with_the_package_its_sha256_and_the_module():
    container = built(plan()).job_spec.worker_pool_specs[0].container_spec
    assert container.image_uri == "us-central1-docker.pkg.dev/p/flexrun/trainer:tag"
    assert not container.command  # the image's ENTRYPOINT, image/launcher.py, gets the arguments
    assert list(container.args) == [
        "--package-uri=gs://b/packages/p-0.1.0.tar.gz",
        f"--package-sha256={'ab' * 32}",
        "--module=flexrun_trainer.task",
        "--",
        "--epochs",
        "2",
    ]


def test_a_prebuilt_image_runs_the_package_with_python_package_spec():
    prebuilt = "us-docker.pkg.dev/vertex-ai/training/tf-gpu.2-17.py310:latest"
    pool = built(plan(executor_image=prebuilt, image_kind=ImageKind.PREBUILT)).job_spec.worker_pool_specs[0]
    assert "container_spec" not in pool
    assert pool.python_package_spec.executor_image_uri == prebuilt
    assert pool.python_package_spec.package_uris == ["gs://b/packages/p-0.1.0.tar.gz"]
    assert pool.python_package_spec.python_module == "flexrun_trainer.task"
    assert list(pool.python_package_spec.args) == ["--epochs", "2"]


def test_labels_respect_vertex_label_rules():
    labels = built(plan()).labels
    assert labels["run_key"] == "nightly-20261127t0100" and labels["correlation_id"] == "msg-77"
    assert all(len(v) <= 63 and v == v.lower() for v in labels.values())


def test_wrong_gpu_machine_pair_is_refused_before_any_call():
    with pytest.raises(InvalidRunRequest, match="cannot carry"):
        check_gpu_machine("NVIDIA_L4", "a2-highgpu-1g")
    with pytest.raises(InvalidRunRequest, match="not in the catalog"):
        check_gpu_machine("NVIDIA_IMAGINARY", "g2-standard-4")


def test_only_flex_start_jobs_carry_a_max_wait():
    as_json = json.loads(aiplatform_v1.CustomJob.to_json(built(plan(strategy="SPOT")), use_integers_for_enums=False))
    assert as_json["jobSpec"]["scheduling"]["strategy"] == "SPOT"
    assert "maxWaitDuration" not in as_json["jobSpec"]["scheduling"]


def test_secrets_reach_the_job_as_secret_manager_names_only():
    ref = "projects/p/secrets/mongodb-url/versions/latest"
    env = built(plan(secret_env={"MONGODB_URL_SECRET": ref})).job_spec.worker_pool_specs[0]
    pairs = {e.name: e.value for e in env.container_spec.env}
    assert pairs == {"FLEXRUN_MODE": "demo", "MONGODB_URL_SECRET": ref}


@pytest.mark.parametrize(
    "changes", [{"timeout_seconds": 7 * 24 * 3600 + 1}, {"max_wait_seconds": -1}, {"gpu_count": 17}]
)
def test_values_outside_vertex_limits_are_refused_before_the_call(changes):
    with pytest.raises(InvalidRunRequest):
        built(plan(**changes))


def test_gpu_count_must_match_the_machine():
    check_gpu_machine("NVIDIA_L4", "g2-standard-24", 2)
    with pytest.raises(InvalidRunRequest, match="carries 2"):
        check_gpu_machine("NVIDIA_L4", "g2-standard-24", 1)


def test_every_catalog_gpu_is_an_aiplatform_accelerator():
    from shared.jobs.catalog import load_catalog

    for gpu in load_catalog()["gpus"]:
        assert gpu in aiplatform_v1.AcceleratorType.__members__


def test_several_replicas_are_a_chief_pool_and_a_worker_pool_on_the_same_machine():
    pools = built(plan(replica_count=3)).job_spec.worker_pool_specs
    assert [p.replica_count for p in pools] == [1, 2]
    # DWS: the same machine configuration in every worker pool (google-facts.md).
    assert pools[0].machine_spec == pools[1].machine_spec
    assert pools[0].container_spec == pools[1].container_spec
    assert len(built(plan()).job_spec.worker_pool_specs) == 1


def test_too_many_replicas_are_refused():
    with pytest.raises(InvalidRunRequest, match="replicas"):
        built(plan(replica_count=9))
