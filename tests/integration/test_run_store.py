"""The run stores against the local cloud: MongoDB (nx-27017, pymongo), Supabase (supabase-py →
the PostgREST endpoint → PostgreSQL with the migration applied), and both together.

Idempotency is the store's job: these tests prove the guarantees the handlers rely on, for each store.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from local.services.cloud import LocalCloud
from shared.runs.record import Prediction, RunChanges, RunRecord
from shared.runs.states import RunState
from shared.stores.base import RunStore
from tests.integration.stores import STORE_KINDS, store_for
from tests.records import a_record

pytestmark = pytest.mark.integration


@pytest.fixture(params=STORE_KINDS)
def store(local_cloud: LocalCloud, request: pytest.FixtureRequest) -> RunStore:
    return store_for(local_cloud, request.param)


@pytest.fixture
def key() -> str:
    # nx-27017 keeps one namespace for all databases: isolation comes from unique run keys.
    return f"store-test-{uuid.uuid4().hex[:10]}"


def claim(store: RunStore, key: str, attempt: int = 1, **fields: object) -> RunRecord:
    record, _ = store.claim(a_record(run_key=key, attempt=attempt, **fields))
    return record


def test_two_claims_of_one_run_key_create_one_record(store: RunStore, key: str):
    first, created_first = store.claim(a_record(run_key=key, gpu_type="NVIDIA_L4"))
    second, created_second = store.claim(a_record(run_key=key, gpu_type="NVIDIA_H100_80GB"))
    assert (created_first, created_second) == (True, False)
    assert second.gpu_type == "NVIDIA_L4" and second == first


def test_a_run_never_moves_backwards(store: RunStore, key: str):
    claim(store, key)
    assert store.advance(key, 1, RunState.RUNNING)
    assert not store.advance(key, 1, RunState.PENDING)
    assert store.get(key).state is RunState.RUNNING


def test_the_terminal_transition_happens_once(store: RunStore, key: str):
    claim(store, key)
    assert store.advance(key, 1, RunState.SUCCEEDED, RunChanges(run_seconds=5))
    assert not store.advance(key, 1, RunState.SUCCEEDED, RunChanges(run_seconds=99))
    assert not store.advance(key, 1, RunState.FAILED)
    record = store.get(key)
    assert (record.state, record.run_seconds) == (RunState.SUCCEEDED, 5)
    assert [state.value for state, _ in record.history()] == ["requested", "succeeded"]


def test_a_terminal_state_is_announced_once(store: RunStore, key: str):
    claim(store, key)
    store.advance(key, 1, RunState.FAILED)
    assert store.claim_notification(key, 1, RunState.FAILED)
    assert not store.claim_notification(key, 1, RunState.FAILED), "the lease is held"
    store.finish_notification(key, 1, RunState.FAILED, sent=True)
    assert not store.claim_notification(key, 1, RunState.FAILED), "already announced"
    assert store.get(key).announced


def test_a_failed_announcement_releases_the_lease_for_the_retry(store: RunStore, key: str):
    claim(store, key)
    assert store.claim_notification(key, 1, RunState.SUCCEEDED)
    store.finish_notification(key, 1, RunState.SUCCEEDED, sent=False)
    assert store.claim_notification(key, 1, RunState.SUCCEEDED)


def test_runs_are_found_by_job_id(store: RunStore, key: str):
    claim(store, key)
    store.update(key, 1, RunChanges(job_id=key + "-42", job_name="projects/p/locations/l/customJobs/42"))
    assert store.find_by_job_id(key + "-42").run_key == key
    assert store.find_by_job_id(key + "-43") is None


def test_open_runs_lists_only_unfinished_runs_requested_before_the_cutoff(store: RunStore, key: str):
    claim(store, key + "-open")
    claim(store, key + "-done")
    store.advance(key + "-done", 1, RunState.FAILED)
    later = datetime.now(timezone.utc) + timedelta(seconds=5)
    keys = {run.run_key for run in store.open_runs(requested_before=later)}
    assert key + "-open" in keys and key + "-done" not in keys
    earlier = datetime.now(timezone.utc) - timedelta(hours=1)
    assert key + "-open" not in {run.run_key for run in store.open_runs(requested_before=earlier)}


def test_unannounced_lists_terminal_attempts_until_their_message_goes_out(store: RunStore, key: str):
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    for suffix in ("-open", "-silent", "-told"):
        claim(store, key + suffix)
    store.advance(key + "-silent", 1, RunState.FAILED)
    store.advance(key + "-told", 1, RunState.FAILED)
    assert store.claim_notification(key + "-told", 1, RunState.FAILED)
    store.finish_notification(key + "-told", 1, RunState.FAILED, sent=True)

    listed = {run.run_key for run in store.unannounced_since(since) if run.run_key.startswith(key)}

    assert listed == {key + "-silent"}
    assert key + "-silent" not in {run.run_key for run in store.unannounced_since(datetime.now(timezone.utc))}


def test_two_concurrent_updates_of_one_run_lose_nothing(store: RunStore, key: str):
    claim(store, key)
    writes = [RunChanges(job_id=f"{key}-job"), RunChanges(hint="try another region"),
              RunChanges(fallback_reason="stockout"), RunChanges(next_attempt=2)] * 4  # fmt: skip
    start, failed = threading.Barrier(len(writes)), []

    def write(changes: RunChanges) -> None:
        start.wait()
        try:
            store.update(key, 1, changes)
        except Exception as exc:  # noqa: BLE001 — reported below: a write that fails is not "lost nothing"
            failed.append(exc)

    threads = [threading.Thread(target=write, args=(changes,)) for changes in writes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    record = store.get(key)
    assert (record.job_id, record.hint, record.fallback_reason, record.next_attempt) == (
        f"{key}-job",
        "try another region",
        "stockout",
        2,
    )


def test_an_update_that_clears_a_field_leaves_it_unknown(store: RunStore, key: str):
    claim(store, key)
    store.update(key, 1, RunChanges(claim_released_at=datetime.now(timezone.utc), hint="x"))
    store.update(key, 1, RunChanges(claim_released_at=None))
    record = store.get(key)
    assert record.claim_released_at is None and record.hint == "x"


def test_the_cost_of_a_period_is_summed_per_gpu_by_the_store(store: RunStore, key: str):
    # Ended in the year 2031, so that no other test's runs fall into the period.
    ended = datetime(2031, 5, 10, tzinfo=timezone.utc) + timedelta(seconds=int(key[-6:], 16) % 86400)
    for attempt, (gpu, usd, moment) in enumerate(
        [
            ("NVIDIA_L4", 0.25, ended),
            ("NVIDIA_L4", 0.5, ended),
            ("NVIDIA_TESLA_T4", 1.0, ended),
            ("NVIDIA_L4", 8.0, ended + timedelta(days=40)),
        ],
        start=1,  # fmt: skip
    ):
        claim(store, key, attempt, gpu_type=gpu, machine_type="n1-standard-8")
        store.advance(key, attempt, RunState.SUCCEEDED, RunChanges(ended_at=moment, estimated_cost_usd=usd))
    claim(store, key, 9)  # still open: not counted
    may = datetime(2031, 5, 1, tzinfo=timezone.utc)
    costs = {
        cost.gpu_type: (cost.attempts, cost.usd)
        for cost in store.cost_by_gpu(may, datetime(2031, 6, 1, tzinfo=timezone.utc))
    }
    assert costs["NVIDIA_L4"][0] >= 2 and costs["NVIDIA_TESLA_T4"][0] >= 1
    mine = {cost.gpu_type: cost for cost in store.cost_by_gpu(ended, ended + timedelta(microseconds=1000))}
    assert {gpu: (c.attempts, c.usd) for gpu, c in mine.items()} == {
        "NVIDIA_L4": (2, 0.75),
        "NVIDIA_TESLA_T4": (1, 1.0),
    }


def _forecast(symbol: str, target: str, close: float) -> Prediction:
    return Prediction(symbol=symbol, target_date=target, last_date="2017-11-10", last_close=100.0,
                      predicted_close=close, predicted_return=0.001, baselines={"naive_last_value": 100.0},
                      model="gru", package_version="0.1.0", generated_at=datetime.now(timezone.utc))  # fmt: skip


def test_a_rerun_replaces_the_predictions_of_its_run_and_never_duplicates_them(store: RunStore, key: str):
    claim(store, key)
    claim(store, key, 2)
    store.replace_predictions(key, 1, [_forecast("SPX", "2017-11-13", 101.0), _forecast("MSFT", "2017-11-13", 84.0)])
    store.replace_predictions(key, 1, [_forecast("SPX", "2017-11-13", 101.0), _forecast("MSFT", "2017-11-13", 84.0)])
    assert len(store.predictions(key)) == 2
    store.replace_predictions(key, 2, [_forecast("SPX", "2017-11-14", 102.5)])
    rows = store.predictions(key)
    assert [(r.symbol, r.target_date, r.attempt, r.predicted_close) for r in rows] == [("SPX", "2017-11-14", 2, 102.5)]


def test_the_latest_prediction_per_symbol_is_the_newest_target_date(store: RunStore, key: str):
    symbol = f"T{key[-6:]}".upper()
    claim(store, key + "-a")
    claim(store, key + "-b")
    store.replace_predictions(key + "-a", 1, [_forecast(symbol, "2031-01-02", 10.0)])
    store.replace_predictions(key + "-b", 1, [_forecast(symbol, "2031-01-03", 11.0)])
    latest = {row.symbol: row for row in store.latest_predictions()}
    assert (latest[symbol].target_date, latest[symbol].run_key) == ("2031-01-03", key + "-b")


def test_fields_a_newer_writer_added_are_kept(store: RunStore, key: str):
    claim(store, key, note_from_a_newer_writer={"a": 1})
    store.update(key, 1, RunChanges(hint="still there"))
    record = store.get(key)
    assert record.model_extra == {"note_from_a_newer_writer": {"a": 1}} and record.hint == "still there"
