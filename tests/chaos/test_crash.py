"""Crash mid-handler: a function's instance is SIGKILLed in the middle of an event → the redelivery
finishes the work exactly once.

The handler is held mid-event by stalling the link it is using (fault proxy), the process group is
killed, the supervisor serves the function again on its port (a new Cloud Run instance), the link is
cut (the dead instance's half-sent requests die with it) and then restored; Eventarc redelivers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from local.demo import chain
from local.standins.faultproxy import FaultProxy
from tests.chaos import kit
from tests.chaos.kit import Chaos

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


def _crash_while_stalled(chaos: Chaos, proxy: FaultProxy, function: str, start: Callable[[], object]) -> int:
    """Hold `function` mid-event, kill it, cut and restore the link; the Eventarc log line count before."""
    mark, since = len(kit.log_lines(chaos.cloud, "eventarc")), proxy.stalled_chunks
    proxy.stall()
    try:
        start()
        kit.wait_for_stall(proxy, since)
        # Cut the held requests and restore the link as soon as the instance is dead, before the
        # supervisor serves it again: the redelivery must meet a working link, not the stall.
        kit.crash_function(chaos, function, after_kill=lambda: (proxy.down(), proxy.up()))
    finally:
        proxy.up()
    return mark


def _retried(chaos: Chaos, function: str, mark: int) -> bool:
    """Eventarc saw the killed delivery fail (status 0: no answer) and redelivered it."""
    lines = kit.log_lines(chaos.cloud, "eventarc")[mark:]
    return any(line.get("function") == function and line.get("status") == 0 for line in lines)


def test_validate_killed_mid_event_records_the_upload_once(chaos: Chaos, deployed: dict, tmp_path: Path):
    uploads: list[chain.Upload] = []

    def upload() -> None:  # the test's own client reaches storage directly: only the function is held
        uploads.append(kit.upload(chaos.cloud, "1.0.1", tmp_path))

    mark = _crash_while_stalled(chaos, chaos.proxies["gcs"], "validate-package", upload)
    entry = chain.wait_for_manifest_entry(chaos.cloud, uploads[0], timeout=150)
    assert entry["status"] == "validated", entry.get("reasons")
    assert len(kit.manifest_entries(chaos.cloud, uploads[0].object_name)) == 1
    assert _retried(chaos, "validate-package", mark)


def test_submit_killed_mid_event_creates_one_job_and_the_run_completes(chaos: Chaos, deployed: dict):
    request = kit.run_request("crash-submit")
    mark = _crash_while_stalled(
        chaos, chaos.proxies["gcs"], "submit-run", lambda: chain.publish_run(chaos.cloud, request)
    )
    record = chain.wait_for_run(chaos.cloud, "crash-submit", timeout=120).model_dump()
    assert record["state"] == "succeeded"
    assert len(kit.jobs_for(chaos.cloud, "crash-submit")) == 1
    assert len(kit.records_for(chaos.cloud, "crash-submit")) == 1
    assert len(kit.slack_for(chaos.cloud, "crash-submit")) == 1
    assert _retried(chaos, "submit-run", mark)


def test_job_state_killed_while_reading_the_outputs_records_and_announces_once(chaos: Chaos, deployed: dict):
    chain.publish_run(chaos.cloud, kit.run_request("crash-outputs"))
    kit.wait_for_record(chaos.cloud, "crash-outputs", lambda r: r.get("job_id"), timeout=60)
    # Only a succeeded job's event reads storage (the trainer's outputs): that handler is the one held.
    mark = _crash_while_stalled(chaos, chaos.proxies["gcs"], "job-state", lambda: None)
    record = chain.wait_for_run(chaos.cloud, "crash-outputs", timeout=120).model_dump()
    assert record["state"] == "succeeded" and record["outputs_complete"] and record["prediction_count"] == 1
    assert len(kit.records_for(chaos.cloud, "crash-outputs")) == 1
    assert len(kit.slack_for(chaos.cloud, "crash-outputs")) == 1
    assert _retried(chaos, "job-state", mark)


def test_job_state_killed_while_posting_to_slack_announces_once(chaos: Chaos, deployed: dict):
    chain.publish_run(chaos.cloud, kit.run_request("crash-slack"))
    kit.wait_for_record(chaos.cloud, "crash-slack", lambda r: r.get("job_id"), timeout=60)
    # Killed after taking the announcement lease, before Slack got the message: the redelivery must
    # send it (the lease of a dead sender must not hold the message back).
    mark = _crash_while_stalled(chaos, chaos.proxies["slack"], "job-state", lambda: None)
    record = chain.wait_for_run(chaos.cloud, "crash-slack", timeout=60).model_dump()
    assert record["state"] == "succeeded"
    assert len(kit.slack_for(chaos.cloud, "crash-slack")) == 1
    assert _retried(chaos, "job-state", mark)
