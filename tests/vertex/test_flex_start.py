"""DWS flex-start, simulated: jobs wait in PENDING for capacity, up to their max wait.

Each test uses its own GPU type, so the shared service's capacity stays independent per test.
"""

from __future__ import annotations

import time

import pytest
from google.cloud import aiplatform_v1

from tests.vertex.conftest import LocalVertex
from tests.vertex.jobs import custom_job, submit, wait_for

pytestmark = pytest.mark.integration
State = aiplatform_v1.JobState


def test_flex_start_job_waits_pending_until_capacity_is_freed(vertex: LocalVertex) -> None:
    client = vertex.client()
    vertex.admin("capacity", {"NVIDIA_H100_80GB": 0})
    created = submit(client, custom_job(accelerator="NVIDIA_H100_80GB", flex_start=True, max_wait=0))

    wait_for(client, created.name, {State.JOB_STATE_PENDING})
    time.sleep(1.0)
    assert client.get_custom_job(name=created.name).state == State.JOB_STATE_PENDING

    vertex.admin("capacity", {"NVIDIA_H100_80GB": 1})

    done = wait_for(client, created.name)
    assert done.state == State.JOB_STATE_SUCCEEDED, done.error


def test_flex_start_job_fails_when_max_wait_passes_without_capacity(vertex: LocalVertex) -> None:
    client = vertex.client()
    vertex.admin("capacity", {"NVIDIA_H200_141GB": 0})
    created = submit(client, custom_job(accelerator="NVIDIA_H200_141GB", flex_start=True, max_wait=1))

    done = wait_for(client, created.name, timeout=10)

    assert done.state == State.JOB_STATE_FAILED
    assert done.error.code == 8  # RESOURCE_EXHAUSTED
    assert done.error.message.startswith("Resources are insufficient in region: us-central1.")
    assert not done.start_time


def test_on_demand_job_fails_at_once_when_the_gpu_is_stocked_out(vertex: LocalVertex) -> None:
    client = vertex.client()
    vertex.admin("capacity", {"NVIDIA_B200": 0})

    done = wait_for(client, submit(client, custom_job(accelerator="NVIDIA_B200")).name, timeout=5)

    assert done.state == State.JOB_STATE_FAILED and done.error.code == 8


def test_second_job_of_a_gpu_type_waits_for_the_first_to_finish(vertex: LocalVertex) -> None:
    client = vertex.client()  # NVIDIA_TESLA_T4 has the default capacity of one job
    first = submit(client, custom_job("--sleep", "2", accelerator="NVIDIA_TESLA_T4", flex_start=True))
    wait_for(client, first.name, {State.JOB_STATE_RUNNING})
    second = submit(client, custom_job(accelerator="NVIDIA_TESLA_T4", flex_start=True))

    time.sleep(0.8)
    assert client.get_custom_job(name=second.name).state == State.JOB_STATE_PENDING

    done = wait_for(client, second.name)
    assert done.state == State.JOB_STATE_SUCCEEDED
    assert done.start_time >= wait_for(client, first.name).end_time


def test_cancelling_a_pending_job_cancels_it_without_running(vertex: LocalVertex) -> None:
    client = vertex.client()
    vertex.admin("capacity", {"NVIDIA_TESLA_P100": 0})
    created = submit(client, custom_job(accelerator="NVIDIA_TESLA_P100", flex_start=True))
    wait_for(client, created.name, {State.JOB_STATE_PENDING})

    client.cancel_custom_job(name=created.name)  # asynchronous, as Vertex documents it

    cancelled = wait_for(client, created.name)
    assert cancelled.state == State.JOB_STATE_CANCELLED and cancelled.end_time and not cancelled.start_time
