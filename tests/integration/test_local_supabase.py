"""The local Supabase: the PostgREST-compatible endpoint answers supabase-py as PostgREST does,
on PostgreSQL with the repository's migration applied (row-level security on)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from postgrest.exceptions import APIError

from deploy import topology
from local.services.cloud import LocalCloud
from shared.cloud import wiring

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(local_cloud: LocalCloud):
    if "SUPABASE_URL" not in local_cloud.env:
        pytest.skip("no PostgreSQL server on this machine: the local Supabase is not running")
    return wiring.supabase_client(local_cloud.env["SUPABASE_URL"], local_cloud.env["SUPABASE_KEY"])


def _run(key: str, attempt: int = 1, **fields) -> dict:
    return {"run_key": key, "attempt": attempt, **fields}


def test_upsert_merges_duplicates_on_the_conflict_columns_and_returns_the_rows(client):
    key = f"pgrst-{uuid.uuid4().hex[:8]}"
    runs = client.table("runs")
    assert runs.upsert(_run(key, gpu_type="NVIDIA_L4"), on_conflict="run_key,attempt").execute().data[0]["state"]
    merged = runs.upsert(_run(key, gpu_type="NVIDIA_H100_80GB"), on_conflict="run_key,attempt").execute().data
    assert [row["gpu_type"] for row in merged] == ["NVIDIA_H100_80GB"]
    ignored = runs.upsert(_run(key, gpu_type="x"), on_conflict="run_key,attempt", ignore_duplicates=True).execute()
    assert ignored.data == []


def test_filters_order_and_limit_select_rows_as_postgrest_does(client):
    key = f"pgrst-{uuid.uuid4().hex[:8]}"
    client.table("runs").insert([_run(key, n, gpu_count=n) for n in (1, 2, 3)]).execute()
    rows = client.table("runs").select("attempt").eq("run_key", key).in_("attempt", [1, 3]).order("attempt", desc=True)
    assert [r["attempt"] for r in rows.execute().data] == [3, 1]
    assert len(client.table("runs").select("*").eq("run_key", key).limit(2).execute().data) == 2
    assert client.table("runs").select("attempt").eq("run_key", key).is_("job_id", "null").execute().data
    moved = client.table("runs").update({"state_rank": 3}).eq("run_key", key).lt("state_rank", 3).execute().data
    assert len(moved) == 3 and client.table("runs").delete().eq("run_key", key).execute().data


def test_constraint_and_unknown_column_errors_come_back_as_postgrest_errors(client):
    with pytest.raises(APIError) as unknown:
        client.table("runs").insert({"run_key": "k", "attempt": 1, "no_such_column": 1}).execute()
    assert unknown.value.code == "PGRST204"
    with pytest.raises(APIError) as check:
        client.table("runs").insert({"run_key": "Not A Label!", "attempt": 1}).execute()
    assert check.value.code == "23514"  # check_violation: the migration's constraints are in force


def test_a_wrong_key_or_an_unknown_table_is_refused(local_cloud: LocalCloud, client):
    url = f"{local_cloud.env['SUPABASE_URL']}/rest/v1/runs?select=*"
    assert httpx.get(url, headers={"apikey": "not-the-key"}).status_code == 401
    good = {"apikey": topology.SUPABASE_KEY, "Authorization": f"Bearer {topology.SUPABASE_KEY}"}
    assert httpx.get(f"{local_cloud.env['SUPABASE_URL']}/rest/v1/no_such_table", headers=good).status_code == 404


def test_a_function_is_called_through_rpc_with_named_arguments_as_postgrest_does(client):
    key = f"pgrst-{uuid.uuid4().hex[:8]}"
    ended = "2032-03-04T05:06:07.008+00:00"  # no other test ends runs in 2032
    client.table("runs").insert([_run(key, n, gpu_type="NVIDIA_L4", state="succeeded", state_rank=9,
                                      ended_at=ended, estimated_cost_usd=0.5) for n in (1, 2)]).execute()  # fmt: skip
    rows = client.rpc("run_costs", {"period_start": "2032-03-01T00:00:00+00:00",
                                    "period_end": "2032-04-01T00:00:00+00:00"}).execute().data  # fmt: skip
    assert rows == [{"gpu_type": "NVIDIA_L4", "attempts": 2, "usd": 1.0}]
    with pytest.raises(APIError) as unknown:
        client.rpc("run_costs", {"period_start": "2032-03-01T00:00:00+00:00"}).execute()
    assert unknown.value.code == "PGRST202"  # no function of that name takes exactly these arguments
    client.table("runs").delete().eq("run_key", key).execute()
