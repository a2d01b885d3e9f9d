"""Stopping and restarting the service: SIGTERM kills replicas, past jobs survive, unfinished ones fail."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from google.cloud import aiplatform_v1

from shared.polling import poll
from tests.vertex.conftest import start_vertex, stop_process
from tests.vertex.jobs import custom_job, job_id, submit, wait_for

pytestmark = pytest.mark.integration
State = aiplatform_v1.JobState


def _replica_pid(stderr_log: Path, wanted_job: str) -> int | None:
    """The pid the service logged for the job's replica, once it has started one."""
    for line in stderr_log.read_text().splitlines():
        record = json.loads(line)
        if record["message"] == "replica started" and record["job_id"] == wanted_job:
            return int(record["pid"])
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_kills_replicas_and_a_restart_fails_unfinished_jobs(gcs: str, env_cache: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    first = start_vertex(state, env_cache, gcs)
    try:
        client = first.client()
        finished = wait_for(client, submit(client, custom_job()).name, timeout=60)
        running = submit(client, custom_job("--sleep", "60"))
        wait_for(client, running.name, {State.JOB_STATE_RUNNING})
        stderr_log = tmp_path / "state.stderr.log"
        pid = poll(lambda: _replica_pid(stderr_log, job_id(running)), timeout=20, what="the replica")

        first.process.send_signal(signal.SIGTERM)

        assert first.process.wait(timeout=15) == 0
        poll(lambda: not _alive(pid), timeout=5, what="the replica to be gone")
    finally:
        stop_process(first.process)

    second = start_vertex(state, env_cache, gcs)
    try:
        client = second.client()
        assert client.get_custom_job(name=finished.name).state == State.JOB_STATE_SUCCEEDED
        again = client.get_custom_job(name=running.name)
        assert again.state == State.JOB_STATE_FAILED
        assert "restarted" in again.error.message
    finally:
        stop_process(second.process)
