"""`flexrun jobs cancel KEY`: KEY is a job id (what `jobs list` shows first) or a run key."""

from __future__ import annotations

from types import SimpleNamespace

import click
import pytest

from cli.run import unfinished_jobs
from shared.cloud.http import NotFound

PARENT = "projects/p/locations/us-central1"


def job(job_id: str, run_key: str, state: str = "JOB_STATE_PENDING", flexrun: str = "run") -> SimpleNamespace:
    labels = {"run_key": run_key, "flexrun": flexrun}
    return SimpleNamespace(name=f"{PARENT}/customJobs/{job_id}", labels=labels, state=SimpleNamespace(name=state))


class Jobs:
    def __init__(self, *jobs: SimpleNamespace) -> None:
        self.jobs = {j.name: j for j in jobs}

    def get_custom_job(self, name: str) -> SimpleNamespace:
        if name not in self.jobs:
            raise NotFound(name)
        return self.jobs[name]

    def list_custom_jobs(self, request: dict) -> list[SimpleNamespace]:
        wanted = request["filter"].split('"')[1]
        return [j for j in self.jobs.values() if j.labels["run_key"] == wanted]


def test_a_job_id_names_that_job_only():
    jobs = Jobs(job("4711", "nightly-1"), job("4712", "nightly-1"))
    assert [j.name for j in unfinished_jobs(jobs, PARENT, "4711")] == [f"{PARENT}/customJobs/4711"]


def test_a_run_key_names_every_unfinished_job_of_the_run():
    jobs = Jobs(job("4711", "nightly-1"), job("4712", "nightly-1", "JOB_STATE_RUNNING"),
                job("4713", "nightly-1", "JOB_STATE_FAILED"), job("4714", "other"))  # fmt: skip
    assert sorted(j.name[-4:] for j in unfinished_jobs(jobs, PARENT, "nightly-1")) == ["4711", "4712"]


def test_a_numeric_run_key_that_is_no_job_id_is_still_a_run_key():
    jobs = Jobs(job("4711", "20261201"))
    assert [j.name[-4:] for j in unfinished_jobs(jobs, PARENT, "20261201")] == ["4711"]


def test_a_finished_job_or_an_unknown_key_is_refused_saying_what_was_looked_for():
    jobs = Jobs(job("4711", "nightly-1", "JOB_STATE_SUCCEEDED"), job("999", "x", flexrun="other"))
    with pytest.raises(click.ClickException, match="job 4711 is already SUCCEEDED"):
        unfinished_jobs(jobs, PARENT, "4711")
    with pytest.raises(click.ClickException, match="no unfinished job has id 999 or carries run_key 999"):
        unfinished_jobs(jobs, PARENT, "999")
