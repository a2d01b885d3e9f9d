"""One normal form for a run record, whichever store it was read from; the migration matches the schema."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from shared.runs.record import FIELDS, for_write, normal_form, split_known

MIGRATIONS = Path(__file__).resolve().parents[2] / "supabase" / "migrations"


def _columns(table: str) -> list[str]:
    sql = "".join(path.read_text() for path in sorted(MIGRATIONS.glob("*.sql")))
    body = re.search(rf"create table if not exists public\.{table} \((.*?)\n\);", sql, re.S).group(1)
    names = [re.match(r"\s*(\w+)\s", line) for line in body.splitlines()]
    keywords = {"primary", "foreign", "check", "constraint", "unique"}
    created = [m.group(1) for m in names if m and m.group(1) not in keywords and not m.group(1).startswith("--")]
    return created + re.findall(rf"alter table public\.{table} add column if not exists (\w+)", sql)


def test_the_migration_has_one_column_per_documented_field_and_extra():
    assert set(_columns("runs")) == set(FIELDS) | {"extra"}


def test_the_documented_schema_lists_every_field():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "run-record.md").read_text()
    missing = [name for name in FIELDS if f"`{name}`" not in doc]
    assert missing == []


def test_a_record_read_from_any_store_has_one_shape():
    written = for_write({"requested_at": datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=timezone.utc)})
    as_mongo = {"_id": "x", "run_key": "k", "outputs_complete": 1, "hint": None, **written}
    as_postgrest = {"run_key": "k", "outputs_complete": True, "hint": None, "extra": None,
                    "requested_at": "2026-11-27T10:00:00.123+00:00"}  # fmt: skip
    assert (
        normal_form(as_mongo)
        == normal_form(as_postgrest)
        == {
            "run_key": "k",
            "outputs_complete": True,
            "requested_at": datetime(2026, 11, 27, 10, 0, 0, 123000, tzinfo=timezone.utc),
        }
    )


def test_fields_a_newer_writer_adds_travel_in_extra_and_come_back_at_the_top():
    known, extra = split_known({"run_key": "k", "shiny_new_field": 1})
    assert (known, extra) == ({"run_key": "k"}, {"shiny_new_field": 1})
    assert normal_form({"run_key": "k", "extra": {"shiny_new_field": 1}}) == {"run_key": "k", "shiny_new_field": 1}
