"""ContainerSpec jobs on the trainer image: the launcher fetches, checks and installs the package, then runs it."""

from __future__ import annotations

import hashlib

import pytest
from google.cloud import aiplatform_v1

from tests.vertex.conftest import (
    PACKAGE_BUCKET,
    PACKAGE_URI,
    TRAINER_IMAGE,
    TRAINER_SETUP,
    LocalVertex,
    build_sdist,
    storage_client,
)
from tests.vertex.jobs import custom_job, job_id, submit, wait_for

pytestmark = pytest.mark.integration
State = aiplatform_v1.JobState
SHA256 = hashlib.sha256(build_sdist()).hexdigest()


def container_job(*trainer_args: str, image: str = TRAINER_IMAGE, uri: str = PACKAGE_URI, sha256: str = SHA256):
    job = custom_job()
    pool = job.job_spec.worker_pool_specs[0]
    pool.container_spec = aiplatform_v1.ContainerSpec(  # replaces the package spec (a oneof)
        image_uri=image,
        args=[f"--package-uri={uri}", f"--package-sha256={sha256}", "--module=tinytrainer", "--", *trainer_args],
        env=[aiplatform_v1.EnvVar(name="GREETING", value="hello")],
    )
    return job


def replica_log(vertex: LocalVertex, job: aiplatform_v1.CustomJob) -> str:
    return (vertex.state_dir / "jobs" / job_id(job) / "replica.log").read_text()


def test_the_launcher_installs_the_package_and_runs_its_module(vertex: LocalVertex) -> None:
    client = vertex.client()
    done = wait_for(client, submit(client, container_job("--exit-code", "0")).name, timeout=120)

    assert done.state == State.JOB_STATE_SUCCEEDED, done.error
    log = replica_log(vertex, done)
    assert "flexrun-launcher: installing tinytrainer-0.1.tar.gz with the image's pins as constraints" in log
    assert "flexrun-launcher: running python -m tinytrainer --exit-code 0" in log
    assert "trainer started" in log


def test_the_trainers_exit_status_is_the_jobs(vertex: LocalVertex) -> None:
    client = vertex.client()
    done = wait_for(client, submit(client, container_job("--exit-code", "3")).name, timeout=120)

    assert done.state == State.JOB_STATE_FAILED
    assert "exited with a non-zero status of 3." in done.error.message


def test_a_package_whose_sha256_differs_from_the_manifest_is_never_installed(vertex: LocalVertex) -> None:
    client = vertex.client()
    done = wait_for(client, submit(client, container_job(sha256="0" * 64)).name, timeout=60)

    assert done.state == State.JOB_STATE_FAILED
    assert "exited with a non-zero status of 65." in done.error.message
    log = replica_log(vertex, done)
    assert "is not the manifest's " + "0" * 64 in log and "installing" not in log


def test_a_package_that_needs_another_version_of_a_pinned_distribution_fails_before_the_trainer(
    vertex: LocalVertex, gcs: str
) -> None:
    setup = TRAINER_SETUP.replace('["google-cloud-storage"]', '["google-cloud-storage", "six==1.16.0"]')
    sdist = build_sdist(setup)
    storage_client(gcs).bucket(PACKAGE_BUCKET).blob("packages/tinytrainer-six.tar.gz").upload_from_string(sdist)
    uri = f"gs://{PACKAGE_BUCKET}/packages/tinytrainer-six.tar.gz"
    client = vertex.client()

    done = wait_for(
        client, submit(client, container_job(uri=uri, sha256=hashlib.sha256(sdist).hexdigest())).name, timeout=120
    )

    assert done.state == State.JOB_STATE_FAILED
    assert "exited with a non-zero status of 78." in done.error.message
    assert "trainer started" not in replica_log(vertex, done)


def test_a_package_that_would_upgrade_something_the_lock_does_not_pin_is_refused_too(
    vertex: LocalVertex, gcs: str
) -> None:
    # pip comes with the image's Python, not from the lock: the constraints cannot stop this one,
    # the launcher's before/after comparison does.
    setup = TRAINER_SETUP.replace('["google-cloud-storage"]', '["google-cloud-storage", "pip>=24"]')
    sdist = build_sdist(setup)
    storage_client(gcs).bucket(PACKAGE_BUCKET).blob("packages/tinytrainer-st.tar.gz").upload_from_string(sdist)
    uri = f"gs://{PACKAGE_BUCKET}/packages/tinytrainer-st.tar.gz"
    client = vertex.client()

    job = container_job(uri=uri, sha256=hashlib.sha256(sdist).hexdigest())
    done = wait_for(client, submit(client, job).name, timeout=180)

    assert done.state == State.JOB_STATE_FAILED
    assert "exited with a non-zero status of 78." in done.error.message
    log = replica_log(vertex, done)
    assert "would replace what the image ships: pip " in log and "trainer started" not in log


def test_an_image_the_registry_does_not_hold_fails_the_job_clearly(vertex: LocalVertex) -> None:
    client = vertex.client()
    done = wait_for(client, submit(client, container_job(image="us-docker.pkg.dev/x/y/z:latest")).name)

    assert done.state == State.JOB_STATE_FAILED
    assert "Unable to pull the container image us-docker.pkg.dev/x/y/z:latest" in done.error.message
