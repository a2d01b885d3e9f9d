"""A store that goes down mid-run: the event fails so the trigger retries it, nothing is half-written,
and the retry after the store is back completes the record and sends the one Slack message.

Each test stops a server of its own (a second nx-27017, a second PostgREST endpoint on the local
cloud's PostgreSQL), so the session's local cloud stays up for the other tests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest

from deploy import topology
from local.services import mongo
from local.services.cloud import REPO_ROOT, LocalCloud
from local.services.processes import ManagedProcess, http_probe, tcp_probe
from local.standins.postgrest import start_postgrest
from shared.cloud import wiring
from shared.errors import TransientError
from shared.stores.mirrored_store import MirroredRunStore
from shared.stores.mongo_store import MongoRunStore
from shared.stores.supabase_store import SupabaseRunStore
from tests.integration import jobkit
from tests.integration.stores import store_for
from tests.integration.test_job_state_events import TEXT, Deliverer, slack_messages

pytestmark = pytest.mark.integration


def _restart(process: ManagedProcess, probe) -> None:
    process.start(probe, timeout=30)  # the same command line: same port, same data


@pytest.fixture
def own_mongo(tmp_path: Path) -> Iterator[tuple[ManagedProcess, str]]:
    process, url = mongo.start_mongo(tmp_path)
    yield process, url
    process.stop()


@pytest.fixture
def own_postgrest(local_cloud: LocalCloud, tmp_path: Path) -> Iterator[tuple[ManagedProcess, str]]:
    if "postgres" not in local_cloud.endpoints:
        pytest.skip("no PostgreSQL server on this machine: the local Supabase is not running")
    process, url = start_postgrest(
        tmp_path, sys.executable, REPO_ROOT, local_cloud.endpoints["postgres"], topology.SUPABASE_KEY
    )
    yield process, url
    process.stop()


def _supabase(url: str) -> SupabaseRunStore:
    return SupabaseRunStore(wiring.supabase_client(url, topology.SUPABASE_KEY))


def test_mongodb_down_at_the_terminal_event_fails_it_and_its_retry_completes_the_run(
    local_cloud: LocalCloud, own_mongo: tuple[ManagedProcess, str]
):
    jobkit.write_trainer_outputs(local_cloud.storage_client())
    process, url = own_mongo
    client: pymongo.MongoClient = pymongo.MongoClient(url, serverSelectionTimeoutMS=1000, tz_aware=True)
    primary, mirror = MongoRunStore(client.get_default_database()), store_for(local_cloud, "supabase")
    deliver = Deliverer(local_cloud, "both", store=MirroredRunStore(primary, [mirror]))
    run_key, job_id = jobkit.new_run(deliver.store)
    snapshots = jobkit.job_snapshots(job_id, run_key)
    deliver.event(job_id, snapshots["running"], TEXT["running"])

    process.stop()
    with pytest.raises(TransientError, match="MongoDB unavailable"):
        deliver.event(job_id, snapshots["succeeded"], TEXT["succeeded"])
    assert mirror.get(run_key).state == "running" and mirror.predictions(run_key) == []
    assert slack_messages(local_cloud, run_key) == []

    _restart(process, tcp_probe(int(url.rsplit(":", 1)[1].split("/")[0])))
    outcome = deliver.event(job_id, snapshots["succeeded"], TEXT["succeeded"])  # the trigger's redelivery
    assert (outcome.state, outcome.notified) == ("succeeded", True)
    assert primary.get(run_key) == mirror.get(run_key) and mirror.get(run_key).notified_state == "succeeded"
    assert len(mirror.predictions(run_key)) == 3
    assert len(slack_messages(local_cloud, run_key)) == 1


def test_supabase_down_at_the_terminal_event_fails_it_and_its_retry_brings_the_mirror_up_to_date(
    local_cloud: LocalCloud, own_postgrest: tuple[ManagedProcess, str]
):
    jobkit.write_trainer_outputs(local_cloud.storage_client())
    process, url = own_postgrest
    primary, mirror = store_for(local_cloud, "mongodb"), _supabase(url)
    deliver = Deliverer(local_cloud, "both", store=MirroredRunStore(primary, [mirror]))
    run_key, job_id = jobkit.new_run(deliver.store)
    snapshots = jobkit.job_snapshots(job_id, run_key)
    deliver.event(job_id, snapshots["running"], TEXT["running"])

    process.stop()
    with pytest.raises(TransientError, match="Supabase unavailable"):
        deliver.event(job_id, snapshots["succeeded"], TEXT["succeeded"])
    assert primary.get(run_key).state == "running", "the record moves only once every store can take it"
    assert slack_messages(local_cloud, run_key) == []

    _restart(process, http_probe(f"{url}/health"))
    outcome = deliver.event(job_id, snapshots["succeeded"], TEXT["succeeded"])
    assert (outcome.state, outcome.notified) == ("succeeded", True)
    assert primary.get(run_key) == mirror.get(run_key)
    assert len(slack_messages(local_cloud, run_key)) == 1
