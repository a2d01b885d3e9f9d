"""Outages mid-chain: a dependency is down for a while, then back → every run completes once.

Each test breaks one thing at a point of the chain where the functions need it, keeps it broken long
enough for the trigger to retry, repairs it, and then counts: one record, one Vertex job, one Slack
message, and the function logs show the outage was really hit (a retried event).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from local.demo import chain
from tests.chaos import kit
from tests.chaos.kit import Chaos

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

OUTAGE_SECONDS = 4.0
# Longer than the functions' MongoDB server-selection wait (5 s, shared/cloud/clients.py): a shorter outage is
# only waited out inside one delivery, and the retry path would go untested.
MONGO_OUTAGE_SECONDS = 7.0


def _assert_completed_once(chaos: Chaos, run_key: str) -> dict:
    record = chain.wait_for_run(chaos.cloud, run_key, timeout=120).model_dump()
    assert record["state"] == "succeeded", record.get("error")
    assert record["outputs_complete"] and record["prediction_count"] == 1
    assert len(kit.records_for(chaos.cloud, run_key)) == 1
    assert len(kit.jobs_for(chaos.cloud, run_key)) == 1
    assert len(kit.slack_for(chaos.cloud, run_key)) == 1
    return record


def _retried(chaos: Chaos, function: str, since: int) -> list[dict]:
    lines = kit.log_lines(chaos.cloud, function)[since:]
    return [line for line in lines if "will be retried" in line.get("message", "")]


def _mark(chaos: Chaos, function: str) -> int:
    return len(kit.log_lines(chaos.cloud, function))


def test_mongodb_down_while_a_run_is_submitted_delays_it_and_loses_nothing(chaos: Chaos, deployed: dict):
    since = _mark(chaos, "submit-run")
    chaos.cloud.stop_service("mongo")
    try:
        chain.publish_run(chaos.cloud, kit.run_request("outage-mongo"))
        time.sleep(MONGO_OUTAGE_SECONDS)
    finally:
        chaos.cloud.start_service("mongo")  # same port, same data file
    _assert_completed_once(chaos, "outage-mongo")
    assert _retried(chaos, "submit-run", since), "the run message met MongoDB down and was retried"


def test_storage_unreachable_at_upload_and_submit_validates_and_runs_once(chaos: Chaos, deployed: dict, tmp_path: Path):
    chaos.proxies["gcs"].down()
    try:
        upload = kit.upload(chaos.cloud, "1.1.0", tmp_path)  # the test's own client reaches storage directly
        chain.publish_run(chaos.cloud, kit.run_request("outage-storage"))
        time.sleep(OUTAGE_SECONDS)
    finally:
        chaos.proxies["gcs"].up()
    entry = chain.wait_for_manifest_entry(chaos.cloud, upload, timeout=60)
    assert entry["status"] == "validated" and len(kit.manifest_entries(chaos.cloud, upload.object_name)) == 1
    _assert_completed_once(chaos, "outage-storage")
    # google-cloud-storage retries a reset connection itself, so the outage may be waited out inside
    # one delivery rather than by a redelivery: both are fine, neither loses nor repeats anything.


def test_slack_unreachable_then_failing_at_the_terminal_state_sends_one_message(chaos: Chaos, deployed: dict):
    since = _mark(chaos, "job-state")
    chaos.proxies["slack"].down()
    try:
        chain.publish_run(chaos.cloud, kit.run_request("outage-slack"))
        kit.wait_for_record(chaos.cloud, "outage-slack", lambda r: r.get("state") == "succeeded", timeout=90)
        time.sleep(OUTAGE_SECONDS / 2)
        # Back on the network, but answering 500 for the next few posts (the webhook's own outage).
        kit.admin(f"{chaos.cloud.endpoints['slack']}/_admin/faults", {"status": 500, "count": 3})
    finally:
        chaos.proxies["slack"].up()
    _assert_completed_once(chaos, "outage-slack")
    assert _retried(chaos, "job-state", since)


def test_vertex_answering_503_then_429_to_job_reads_delays_the_record_and_loses_nothing(chaos: Chaos, deployed: dict):
    # Faults start once the job exists: this case is about the job-state function's reads.
    vertex = chaos.cloud.env["VERTEX_AI_API_ENDPOINT"]
    since = _mark(chaos, "job-state")
    chain.publish_run(chaos.cloud, kit.run_request("outage-vertex"))
    kit.wait_for_record(chaos.cloud, "outage-vertex", lambda r: r.get("job_id"), timeout=60)
    kit.admin(f"{vertex}/_admin/faults", {"status": 503, "count": 2})
    time.sleep(1.5)
    kit.admin(f"{vertex}/_admin/faults", {"status": 429, "count": 2})
    _assert_completed_once(chaos, "outage-vertex")
    assert _retried(chaos, "job-state", since)


def test_pubsub_emulator_restarted_while_a_job_waits_for_capacity_finishes_the_run(chaos: Chaos, deployed: dict):
    vertex = chaos.cloud.env["VERTEX_AI_API_ENDPOINT"]
    kit.admin(f"{vertex}/_admin/capacity", {"NVIDIA_L4": 0})  # the DWS queue holds the job: mid-chain
    try:
        chain.publish_run(chaos.cloud, kit.run_request("outage-pubsub"))
        kit.wait_for_record(chaos.cloud, "outage-pubsub", lambda r: r.get("state") == "pending", timeout=60)
        chaos.cloud.stop_service("pubsub")
        time.sleep(OUTAGE_SECONDS / 2)
        chaos.cloud.start_service("pubsub")  # same port; topics and subscriptions as deployed
    finally:
        kit.admin(f"{vertex}/_admin/capacity", {"NVIDIA_L4": 8})
    _assert_completed_once(chaos, "outage-pubsub")


def test_vertex_refusing_the_submit_is_retried_promptly_and_creates_one_job(chaos: Chaos, deployed: dict):
    # A submit that fails after claiming its run releases the claim, so the redelivery (seconds later)
    # takes over instead of waiting out the 120 s stale-claim window: the wait below is well under it.
    vertex = chaos.cloud.env["VERTEX_AI_API_ENDPOINT"]
    since = _mark(chaos, "submit-run")
    kit.admin(f"{vertex}/_admin/faults", {"status": 503, "count": 3})
    chain.publish_run(chaos.cloud, kit.run_request("outage-vertex-submit"))
    kit.wait_for_record(chaos.cloud, "outage-vertex-submit", lambda r: r.get("job_id"), timeout=60)
    _assert_completed_once(chaos, "outage-vertex-submit")
    assert _retried(chaos, "submit-run", since)
