"""The typed run record: one value whichever store it was read from; the migration and the docs match it."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shared.errors import InvalidRecord
from shared.jobs.custom_job import RunPlan
from shared.runs.fallback import Resolved
from shared.runs.record import RunChanges, RunRecord, RunSpec
from shared.runs.states import RunState
from shared.stores import supabase_store
from shared.stores.base import validated
from shared.stores.mongo_store import document
from tests.records import CLAIMED, a_record

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "supabase" / "migrations"


def _columns(table: str) -> set[str]:
    sql = "".join(path.read_text() for path in sorted(MIGRATIONS.glob("*.sql")))
    body = re.search(rf"create table if not exists public\.{table} \((.*?)\n\);", sql, re.S).group(1)
    names = [re.match(r"\s*(\w+)\s", line) for line in body.splitlines()]
    keywords = {"primary", "foreign", "check", "constraint", "unique"}
    created = {m.group(1) for m in names if m and m.group(1) not in keywords and not m.group(1).startswith("--")}
    added = re.findall(rf"alter table public\.{table} add column if not exists (\w+)", sql)
    return created | set(added)


def test_the_migrations_have_one_column_per_model_field_and_extra():
    assert _columns("runs") == set(RunRecord.model_fields) | {"extra"}


def test_the_documented_schema_lists_every_field():
    doc = (ROOT / "docs" / "run-record.md").read_text()
    assert [name for name in RunRecord.model_fields if f"`{name}`" not in doc] == []


def test_a_record_read_from_any_store_is_the_same_value():
    as_mongo = {**CLAIMED, "outputs_complete": 1, "requested_at": "2026-11-27 10:00:00.123456"}  # nx-27017's text
    as_postgrest = {**CLAIMED, "outputs_complete": True, "hint": None, "extra": None,
                    "requested_at": "2026-11-27T10:00:00.123+00:00"}  # fmt: skip
    from_mongo = validated(as_mongo, "MongoDB")
    from_supabase = supabase_store._from_row(as_postgrest)
    assert from_mongo == from_supabase
    assert from_mongo.requested_at == datetime(2026, 11, 27, 10, 0, 0, 123000, tzinfo=timezone.utc)
    assert from_mongo.outputs_complete is True and from_mongo.hint is None


def test_a_stored_document_that_is_not_a_record_is_refused_with_its_key_and_field():
    with pytest.raises(InvalidRecord, match=r"test-run#1 in MongoDB .*state"):
        validated({**CLAIMED, "state": "exploded"}, "MongoDB")


def test_fields_a_newer_writer_adds_are_kept_and_travel_in_extra_in_supabase():
    record = a_record(shiny_new_field={"a": 1})
    assert record.model_extra == {"shiny_new_field": {"a": 1}}
    row = supabase_store.row(record)
    assert row["extra"] == {"shiny_new_field": {"a": 1}} and "shiny_new_field" not in row
    assert supabase_store._from_row(row) == record
    assert document(record)["shiny_new_field"] == {"a": 1}


def test_changes_write_exactly_the_fields_they_set_and_none_clears_one():
    changes = RunChanges(job_id="42").merged(RunChanges(claim_released_at=None))
    assert changes.set_fields() == {"job_id": "42", "claim_released_at": None}
    with pytest.raises(ValueError):
        RunChanges(state="succeeded")  # a state moves only through the store's guarded advance


def test_the_next_attempt_shares_the_run_and_none_of_the_first_attempts_outcome():
    step = Resolved("NVIDIA_L4", 1, "g2-standard-4", "us-east4", "FLEX_START", 600)
    first = a_record(chain=[step, step], args=["--epochs", "1"], reason="nightly", state="expired",
                     job_id="41", error={"message": "waited too long"}, estimated_cost_usd=0.5)  # fmt: skip
    plan = RunPlan(run_key=first.run_key, attempt=2, display_name="j", package_uri=first.package_uri,
                   package_version=first.package_version, package_sha256=first.package_sha256,
                   python_module="m", executor_image="image-2", gpu_type="NVIDIA_L4", gpu_count=1,
                   machine_type="g2-standard-4", region="us-east4", max_wait_seconds=600, timeout_seconds=3600,
                   output_uri="gs://staging/runs/test-run/attempt-2/", service_account=None,
                   correlation_id=first.correlation_id)  # fmt: skip
    second = first.next_attempt_record(plan, step.label, "capacity_wait_expired")
    assert second.spec() == first.spec() and isinstance(second.spec(), RunSpec)
    assert (second.attempt, second.region, second.previous_attempt) == (2, "us-east4", 1)
    assert (second.state, second.job_id, second.error, second.estimated_cost_usd) == (
        RunState.REQUESTED,
        None,
        None,
        None,
    )
    assert second.fallback_reason == "capacity_wait_expired" and second.output_uri.endswith("attempt-2/")
