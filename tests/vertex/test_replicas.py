"""A job with several replicas runs as several processes, wired by CLUSTER_SPEC and TF_CONFIG on loopback."""

from __future__ import annotations

import json

from google.cloud import aiplatform_v1

from tests.vertex.conftest import STAGING_BUCKET, LocalVertex, storage_client
from tests.vertex.jobs import custom_job, job_id, submit, wait_for

State = aiplatform_v1.JobState


def _with_workers(job: aiplatform_v1.CustomJob, count: int) -> aiplatform_v1.CustomJob:
    """Pool 1: `count` more replicas on the same machine, as flexrun submits them (DWS rule)."""
    chief = job.job_spec.worker_pool_specs[0]
    job.job_spec.worker_pool_specs.append(
        aiplatform_v1.WorkerPoolSpec(
            machine_spec=chief.machine_spec, replica_count=count, python_package_spec=chief.python_package_spec
        )
    )
    return job


def test_every_replica_runs_with_its_own_task_in_one_cluster(vertex: LocalVertex, gcs: str) -> None:
    client = vertex.client()
    created = submit(client, _with_workers(custom_job("--write", output="runs/replicas"), 2))

    done = wait_for(client, created.name, timeout=90)

    assert done.state == State.JOB_STATE_SUCCEEDED, done.error
    job_dir = vertex.state_dir / "jobs" / job_id(created)
    for log in ("replica.log", "replica-workerpool1-0.log", "replica-workerpool1-1.log"):
        assert "trainer started" in (job_dir / log).read_text(), log
    # Every replica wrote model.json (the tiny trainer has no chief rule); each saw the whole cluster.
    seen = json.loads(
        storage_client(gcs).bucket(STAGING_BUCKET).blob("runs/replicas/model/model.json").download_as_text()
    )
    tf_config = json.loads(seen["TF_CONFIG"])
    assert len(tf_config["cluster"]["chief"]) == 1 and len(tf_config["cluster"]["worker"]) == 2
    addresses = tf_config["cluster"]["chief"] + tf_config["cluster"]["worker"]
    assert all(a.startswith("127.0.0.1:") for a in addresses) and len(set(addresses)) == 3
    assert json.loads(seen["CLUSTER_SPEC"])["cluster"]["workerpool1"] == tf_config["cluster"]["worker"]


def test_a_failing_worker_fails_the_job_naming_that_replica(vertex: LocalVertex) -> None:
    client = vertex.client()
    job = _with_workers(custom_job(), 1)
    job.job_spec.worker_pool_specs[1].python_package_spec.args = ["--exit-code", "5"]

    done = wait_for(client, submit(client, job).name, timeout=60)

    assert done.state == State.JOB_STATE_FAILED
    assert "The replica workerpool1-0 exited with a non-zero status of 5" in done.error.message
