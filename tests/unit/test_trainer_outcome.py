"""job-state shows why the trainer exited: its outcome.json (reason, exit code, last error line) is read
when a job fails, kept in the record and shown in Slack; a missing or malformed file changes nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from cli.run import summary_paragraph
from shared.config.settings import Settings
from shared.events.job_logs import JobWakeUp
from shared.notify.figures import plain
from shared.runs.job_progress import handle_job_wake_up
from shared.runs.record import RunChanges, RunRecord
from shared.runs.trainer_outputs import read_outcome
from tests.cloud_fakes import Slack, Storage, Topic
from tests.memory_store import MemoryRunStore
from tests.records import CLAIMED, a_record

SETTINGS = Settings(gcp_project_id="p")
OUTCOME_URI = CLAIMED["output_uri"].rstrip("/") + "/model/outcome.json"
LINE = "prices.csv: row 17 (SPX 2016-03-02): high 2001.5 < low 2010.0"
WRITTEN = {"schema_version": 1, "status": "failed", "exit_code": 3, "reason": "data_error",
           "error_type": "DataError", "error": LINE, "package_version": "0.3.0",
           "finished_at": "2026-12-02T00:00:00+00:00"}  # fmt: skip
VERTEX_SAYS = "The replica workerpool0-0 exited with a non-zero status of 3. Termination reason: Error."


def failed_job() -> SimpleNamespace:
    ended = datetime.now(timezone.utc) - timedelta(minutes=1)
    return SimpleNamespace(name="projects/p/locations/us-central1/customJobs/7", labels={"flexrun": "run"},
                           state=SimpleNamespace(name="JOB_STATE_FAILED"),
                           error=SimpleNamespace(code=3, message=VERTEX_SAYS),
                           create_time=ended, start_time=ended, end_time=ended)  # fmt: skip


def job_state(storage: Storage) -> tuple[RunRecord, Slack]:
    store, slack = MemoryRunStore(), Slack()
    store.claim(a_record())
    store.update("test-run", 1, RunChanges(job_id="7", job_name=failed_job().name))
    jobs = SimpleNamespace(get_custom_job=lambda name: failed_job())
    handle_job_wake_up(JobWakeUp(job_id="7", project_id="p", severity="", text=""), settings=SETTINGS,
                       jobs_for_region=lambda region: jobs, store=store, storage=storage, notifier=slack,
                       publisher=Topic())  # fmt: skip
    record = store.get("test-run", 1)
    assert record is not None and record.state == "failed"
    return record, slack


def test_a_failed_job_records_and_announces_the_trainers_exit_reason_and_last_error_line():
    record, slack = job_state(Storage({OUTCOME_URI: json.dumps(WRITTEN).encode()}))

    assert record.trainer_outcome is not None
    assert (record.trainer_outcome.reason, record.trainer_outcome.exit_code) == ("data_error", 3)
    assert record.failure_class == "data_problem"
    (announced,) = slack.sent
    assert f"*The trainer's last error* (data_error, exit 3): {LINE}" in json.dumps(announced.blocks)
    assert LINE in announced.text
    assert f"The trainer's last error: {LINE}" in summary_paragraph(plain(record))  # run --wait


@pytest.mark.parametrize(
    "written",
    [None, b"{not json", json.dumps({**WRITTEN, "schema_version": 7}).encode(), b'["a list"]'],
    ids=["missing", "not-json", "unknown-schema", "not-an-object"],
)
def test_without_a_readable_outcome_the_failure_is_recorded_and_announced_as_before(written: bytes | None):
    record, slack = job_state(Storage({OUTCOME_URI: written} if written else {}))

    assert record.trainer_outcome is None and record.failure_class == "data_problem"
    (announced,) = slack.sent
    assert "trainer's last error" not in json.dumps(announced.blocks) and "exit 3" not in announced.text
    assert "read the last error line of its replica log" in json.dumps(announced.blocks)


def test_storage_failing_while_reading_the_outcome_costs_only_the_detail():
    class Broken:
        def bucket(self, name: str) -> object:
            raise ConnectionResetError("storage down")

    assert read_outcome(Broken(), CLAIMED["output_uri"]) is None
