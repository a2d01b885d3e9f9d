"""A job's life through the production client: it runs, fails, times out or is cancelled honestly."""

from __future__ import annotations

import json

import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1

from shared.polling import poll
from tests.vertex.conftest import PACKAGE_BUCKET, PROJECT, STAGING_BUCKET, LocalVertex, storage_client
from tests.vertex.jobs import custom_job, job_id, submit, wait_for

pytestmark = pytest.mark.integration
State = aiplatform_v1.JobState


def test_job_runs_to_success_and_writes_its_model_where_vertex_says(vertex: LocalVertex, gcs: str) -> None:
    client = vertex.client()
    created = submit(
        client, custom_job("--write", output="runs/r1", env={"GREETING": "hello"}, labels={"run_key": "r1"})
    )
    assert created.state == State.JOB_STATE_QUEUED
    assert created.name.startswith("projects/local-project/locations/us-central1/customJobs/")
    assert job_id(created).isdigit() and created.labels["run_key"] == "r1"
    assert created.create_time

    done = wait_for(client, created.name, timeout=60)  # the first job builds the package's venv

    assert done.state == State.JOB_STATE_SUCCEEDED, done.error
    assert done.start_time and done.end_time and done.end_time >= done.start_time
    seen = json.loads(storage_client(gcs).bucket(STAGING_BUCKET).blob("runs/r1/model/model.json").download_as_text())
    assert seen["AIP_MODEL_DIR"] == f"gs://{STAGING_BUCKET}/runs/r1/model/"
    assert seen["AIP_CHECKPOINT_DIR"] == f"gs://{STAGING_BUCKET}/runs/r1/checkpoints/"
    assert seen["AIP_TENSORBOARD_LOG_DIR"] == f"gs://{STAGING_BUCKET}/runs/r1/logs/"
    assert seen["CLOUD_ML_JOB_ID"] == job_id(created)
    assert seen["CLOUD_ML_PROJECT_ID"] == PROJECT
    assert seen["GREETING"] == "hello"
    assert json.loads(seen["TF_CONFIG"])["task"] == {"type": "chief", "index": 0}


def test_state_changes_are_logged_like_a_vertex_log_sink(vertex: LocalVertex) -> None:
    client = vertex.client()
    created = submit(client, custom_job())
    wait_for(client, created.name)

    entries = vertex.log_entries(job_id(created))

    texts = [e["textPayload"] for e in entries]
    assert texts == [
        "Job creation request has been successfully validated.",
        "Waiting for job to be provisioned.",
        "Waiting for training program to start.",
        "Job is running.",
        "Finished tearing down training program.",
        "Job completed successfully.",
    ]
    first = entries[0]
    assert first["logName"] == f"projects/{PROJECT}/logs/ml.googleapis.com%2F{job_id(created)}"
    assert first["resource"] == {
        "type": "ml_job",
        "labels": {"job_id": job_id(created), "project_id": PROJECT, "task_name": "service"},
    }
    assert {"severity", "timestamp", "receiveTimestamp", "insertId"} <= first.keys()


def test_a_job_logs_its_end_before_its_state_and_error_are_set(vertex: LocalVertex) -> None:
    # google-facts.md: the last service lines come first, the error "about one minute" later.
    client = vertex.client()
    created = submit(client, custom_job("--exit-code", "3"))
    job = job_id(created)
    poll(
        lambda: any(e["textPayload"] == "Job failed." for e in vertex.log_entries(job)) or None,
        timeout=60,
        what="Job failed.",
    )
    read_at_the_last_line = client.get_custom_job(name=created.name)
    assert read_at_the_last_line.state == State.JOB_STATE_RUNNING and not read_at_the_last_line.error.message
    failed = wait_for(client, created.name)
    assert failed.state == State.JOB_STATE_FAILED and "non-zero status of 3" in failed.error.message
    texts = [(e["severity"], e["textPayload"]) for e in vertex.log_entries(job)]
    assert texts[-3][0] == "ERROR" and "non-zero status of 3" in texts[-3][1]  # the error on its own line
    assert [t for _, t in texts[-2:]] == ["Finished tearing down training program.", "Job failed."]


def test_package_venv_reuses_what_the_executor_image_already_has(vertex: LocalVertex) -> None:
    client = vertex.client()
    wait_for(client, submit(client, custom_job()).name)
    venvs = [p for p in vertex.env_cache.iterdir() if p.is_dir()]
    assert len(venvs) == 1, venvs  # one package, one cached venv, however many jobs ran it
    site = next(venvs[0].glob("lib/python*/site-packages"))
    assert (site / "tinytrainer").is_dir()
    # google-cloud-storage is an install_requires of the package, but the executor has it.
    assert not list(site.glob("google_cloud_storage*")) and not (site / "google").exists()


def test_non_zero_exit_fails_the_job_with_vertex_replica_message(vertex: LocalVertex) -> None:
    client = vertex.client()
    done = wait_for(client, submit(client, custom_job("--exit-code", "3")).name)

    assert done.state == State.JOB_STATE_FAILED
    assert done.error.code == 3
    assert done.error.message.startswith("The replica workerpool0-0 exited with a non-zero status of 3.")
    assert vertex.log_entries(job_id(done))[-1]["severity"] == "ERROR"


def test_job_running_past_its_timeout_is_killed_and_fails(vertex: LocalVertex) -> None:
    client = vertex.client()
    created = submit(client, custom_job("--sleep", "60", timeout=2))

    done = wait_for(client, created.name, timeout=20)

    assert done.state == State.JOB_STATE_FAILED
    assert done.error.code == 4 and "timeout" in done.error.message


def test_cancelling_a_running_job_kills_the_replica(vertex: LocalVertex) -> None:
    client = vertex.client()
    created = submit(client, custom_job("--sleep", "60"))
    wait_for(client, created.name, {State.JOB_STATE_RUNNING})
    replica_log = vertex.state_dir / "jobs" / job_id(created) / "replica.log"
    poll(lambda: replica_log.exists() and "trainer started" in replica_log.read_text(), timeout=20, what="the replica")

    client.cancel_custom_job(name=created.name)

    done = wait_for(client, created.name, timeout=10)
    assert done.state == State.JOB_STATE_CANCELLED
    texts = [e["textPayload"] for e in vertex.log_entries(job_id(created))]
    assert texts[-2:] == ["Job is being cancelled.", "Job was cancelled."]


def test_cancelling_a_finished_job_is_refused(vertex: LocalVertex) -> None:
    client = vertex.client()
    done = wait_for(client, submit(client, custom_job()).name)

    with pytest.raises(exceptions.BadRequest) as refused:
        client.cancel_custom_job(name=done.name)

    assert refused.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"


def test_package_that_pip_cannot_install_fails_the_job_clearly(vertex: LocalVertex, gcs: str) -> None:
    bucket = storage_client(gcs).bucket(PACKAGE_BUCKET)
    bucket.blob("packages/broken-0.1.tar.gz").upload_from_string(b"not a tarball")
    client = vertex.client()

    done = wait_for(
        client, submit(client, custom_job(package_uri=f"gs://{PACKAGE_BUCKET}/packages/broken-0.1.tar.gz")).name
    )

    assert done.state == State.JOB_STATE_FAILED
    assert done.error.message.startswith("The replica workerpool0-0 exited with a non-zero status of 1.")
    assert "Installing the package failed" in done.error.message


def test_missing_package_object_fails_the_job_clearly(vertex: LocalVertex) -> None:
    client = vertex.client()

    done = wait_for(client, submit(client, custom_job(package_uri=f"gs://{PACKAGE_BUCKET}/packages/nope.tar.gz")).name)

    assert done.state == State.JOB_STATE_FAILED
    assert "downloading gs://flexrun-packages/packages/nope.tar.gz failed" in done.error.message
