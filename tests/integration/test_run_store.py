"""The MongoDB run store, against the local cloud's MongoDB-protocol server through pymongo.

Idempotency is the store's job: these tests prove the guarantees the handlers rely on.
"""

from __future__ import annotations

import uuid

import pymongo
import pytest

from local.cloud import LocalCloud
from shared.runs import RunState, history
from shared.store import MongoRunStore

pytestmark = pytest.mark.integration


@pytest.fixture
def store(local_cloud: LocalCloud) -> MongoRunStore:
    client: pymongo.MongoClient = pymongo.MongoClient(local_cloud.env["MONGODB_URL"], tz_aware=True)
    return MongoRunStore(client.get_default_database())


@pytest.fixture
def key() -> str:
    # nx-27017 keeps one namespace for all databases: isolation comes from unique run keys.
    return f"store-test-{uuid.uuid4().hex[:10]}"


def test_two_claims_of_one_run_key_create_one_record(store: MongoRunStore, key: str):
    first, created_first = store.claim(key, 1, {"gpu_type": "NVIDIA_L4"})
    second, created_second = store.claim(key, 1, {"gpu_type": "NVIDIA_H100_80GB"})
    assert (created_first, created_second) == (True, False)
    assert second["gpu_type"] == "NVIDIA_L4"


def test_a_run_never_moves_backwards(store: MongoRunStore, key: str):
    store.claim(key, 1, {})
    assert store.advance(key, 1, RunState.RUNNING, {})
    assert not store.advance(key, 1, RunState.PENDING, {})
    assert store.get(key)["state"] == "running"


def test_the_terminal_transition_happens_once(store: MongoRunStore, key: str):
    store.claim(key, 1, {})
    assert store.advance(key, 1, RunState.SUCCEEDED, {"run_seconds": 5})
    assert not store.advance(key, 1, RunState.SUCCEEDED, {"run_seconds": 99})
    assert not store.advance(key, 1, RunState.FAILED, {})
    record = store.get(key)
    assert (record["state"], record["run_seconds"]) == ("succeeded", 5)
    assert [state.value for state, _ in history(record)] == ["requested", "succeeded"]


def test_a_terminal_state_is_announced_once(store: MongoRunStore, key: str):
    store.claim(key, 1, {})
    store.advance(key, 1, RunState.FAILED, {})
    assert store.claim_notification(key, 1, RunState.FAILED)
    assert not store.claim_notification(key, 1, RunState.FAILED), "the lease is held"
    store.finish_notification(key, 1, RunState.FAILED, sent=True)
    assert not store.claim_notification(key, 1, RunState.FAILED), "already announced"


def test_a_failed_announcement_releases_the_lease_for_the_retry(store: MongoRunStore, key: str):
    store.claim(key, 1, {})
    assert store.claim_notification(key, 1, RunState.SUCCEEDED)
    store.finish_notification(key, 1, RunState.SUCCEEDED, sent=False)
    assert store.claim_notification(key, 1, RunState.SUCCEEDED)


def test_runs_are_found_by_job_id(store: MongoRunStore, key: str):
    store.claim(key, 1, {})
    store.attach_job(key, 1, {"job_id": key + "-42", "job_name": "projects/p/locations/l/customJobs/42"})
    assert store.find_by_job_id(key + "-42")["run_key"] == key
    assert store.find_by_job_id(key + "-43") is None
