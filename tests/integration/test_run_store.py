"""The run stores against the local cloud: MongoDB (nx-27017, pymongo), Supabase (supabase-py →
the PostgREST endpoint → PostgreSQL with the migration applied), and both together.

Idempotency is the store's job: these tests prove the guarantees the handlers rely on, for each store.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from local.services.cloud import LocalCloud
from shared.runs.states import RunState, history
from shared.stores.base import RunStore
from tests.integration.stores import STORE_KINDS, store_for

pytestmark = pytest.mark.integration


@pytest.fixture(params=STORE_KINDS)
def store(local_cloud: LocalCloud, request: pytest.FixtureRequest) -> RunStore:
    return store_for(local_cloud, request.param)


@pytest.fixture
def key() -> str:
    # nx-27017 keeps one namespace for all databases: isolation comes from unique run keys.
    return f"store-test-{uuid.uuid4().hex[:10]}"


def test_two_claims_of_one_run_key_create_one_record(store: RunStore, key: str):
    first, created_first = store.claim(key, 1, {"gpu_type": "NVIDIA_L4"})
    second, created_second = store.claim(key, 1, {"gpu_type": "NVIDIA_H100_80GB"})
    assert (created_first, created_second) == (True, False)
    assert second["gpu_type"] == "NVIDIA_L4"


def test_a_run_never_moves_backwards(store: RunStore, key: str):
    store.claim(key, 1, {})
    assert store.advance(key, 1, RunState.RUNNING, {})
    assert not store.advance(key, 1, RunState.PENDING, {})
    assert store.get(key)["state"] == "running"


def test_the_terminal_transition_happens_once(store: RunStore, key: str):
    store.claim(key, 1, {})
    assert store.advance(key, 1, RunState.SUCCEEDED, {"run_seconds": 5})
    assert not store.advance(key, 1, RunState.SUCCEEDED, {"run_seconds": 99})
    assert not store.advance(key, 1, RunState.FAILED, {})
    record = store.get(key)
    assert (record["state"], record["run_seconds"]) == ("succeeded", 5)
    assert [state.value for state, _ in history(record)] == ["requested", "succeeded"]


def test_a_terminal_state_is_announced_once(store: RunStore, key: str):
    store.claim(key, 1, {})
    store.advance(key, 1, RunState.FAILED, {})
    assert store.claim_notification(key, 1, RunState.FAILED)
    assert not store.claim_notification(key, 1, RunState.FAILED), "the lease is held"
    store.finish_notification(key, 1, RunState.FAILED, sent=True)
    assert not store.claim_notification(key, 1, RunState.FAILED), "already announced"


def test_a_failed_announcement_releases_the_lease_for_the_retry(store: RunStore, key: str):
    store.claim(key, 1, {})
    assert store.claim_notification(key, 1, RunState.SUCCEEDED)
    store.finish_notification(key, 1, RunState.SUCCEEDED, sent=False)
    assert store.claim_notification(key, 1, RunState.SUCCEEDED)


def test_runs_are_found_by_job_id(store: RunStore, key: str):
    store.claim(key, 1, {})
    store.attach_job(key, 1, {"job_id": key + "-42", "job_name": "projects/p/locations/l/customJobs/42"})
    assert store.find_by_job_id(key + "-42")["run_key"] == key
    assert store.find_by_job_id(key + "-43") is None


def test_open_runs_lists_only_unfinished_runs_requested_before_the_cutoff(store: RunStore, key: str):
    store.claim(key + "-open", 1, {})
    store.claim(key + "-done", 1, {})
    store.advance(key + "-done", 1, RunState.FAILED, {})
    later = datetime.now(timezone.utc) + timedelta(seconds=5)
    keys = {run["run_key"] for run in store.open_runs(requested_before=later)}
    assert key + "-open" in keys and key + "-done" not in keys
    earlier = datetime.now(timezone.utc) - timedelta(hours=1)
    assert key + "-open" not in {run["run_key"] for run in store.open_runs(requested_before=earlier)}


def _forecast(symbol: str, target: str, close: float) -> dict:
    return {"symbol": symbol, "target_date": target, "last_date": "2017-11-10", "last_close": 100.0,
            "predicted_close": close, "predicted_return": 0.001, "baselines": {"naive_last_value": 100.0},
            "model": "gru", "package_version": "0.1.0", "generated_at": datetime.now(timezone.utc)}  # fmt: skip


def test_a_rerun_replaces_the_predictions_of_its_run_and_never_duplicates_them(store: RunStore, key: str):
    store.claim(key, 1, {})
    store.claim(key, 2, {})
    store.replace_predictions(key, 1, [_forecast("SPX", "2017-11-13", 101.0), _forecast("MSFT", "2017-11-13", 84.0)])
    store.replace_predictions(key, 1, [_forecast("SPX", "2017-11-13", 101.0), _forecast("MSFT", "2017-11-13", 84.0)])
    assert len(store.predictions(key)) == 2
    store.replace_predictions(key, 2, [_forecast("SPX", "2017-11-14", 102.5)])
    rows = store.predictions(key)
    assert [(r["symbol"], r["target_date"], r["attempt"], r["predicted_close"]) for r in rows] == [
        ("SPX", "2017-11-14", 2, 102.5)
    ]


def test_the_latest_prediction_per_symbol_is_the_newest_target_date(store: RunStore, key: str):
    symbol = f"T{key[-6:]}".upper()
    store.claim(key + "-a", 1, {})
    store.claim(key + "-b", 1, {})
    store.replace_predictions(key + "-a", 1, [_forecast(symbol, "2031-01-02", 10.0)])
    store.replace_predictions(key + "-b", 1, [_forecast(symbol, "2031-01-03", 11.0)])
    latest = {row["symbol"]: row for row in store.latest_predictions()}
    assert (latest[symbol]["target_date"], latest[symbol]["run_key"]) == ("2031-01-03", key + "-b")


def test_fields_without_a_column_of_their_own_are_kept(store: RunStore, key: str):
    store.claim(key, 1, {"note_from_a_newer_writer": {"a": 1}})
    store.update_fields(key, 1, {"another_new_field": "x"})
    record = store.get(key)
    assert record["note_from_a_newer_writer"] == {"a": 1} and record["another_new_field"] == "x"
