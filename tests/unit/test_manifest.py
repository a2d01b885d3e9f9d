"""The manifest's rules as pure values: deployable version, pin/unpin/rollback, version order, schema."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from shared.events.cloudevents import StoredObject
from shared.packages.manifest import Manifest, ManifestEntry, ManifestOperationRefused, VersionStatus
from shared.packages.validate_package import ordering_problems

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def entry(version: str, status: VersionStatus = VersionStatus.VALIDATED, at: datetime = T0, gen: int = 1):
    name = f"packages/p-{version}.tar.gz"
    return ManifestEntry(
        version=version,
        status=status,
        object_name=name,
        generation=gen,
        uri=f"gs://b/{name}",
        recorded_at=at,
        sha256=version,
    )


def upload(version: str, created: datetime, **metadata: str) -> StoredObject:
    return StoredObject("b", f"packages/p-{version}.tar.gz", 1, 1, "", "", dict(metadata), created)


def manifest(*entries: ManifestEntry) -> Manifest:
    return Manifest(entries=list(entries))


def test_pinned_version_wins_over_the_newest_validated():
    m = manifest(entry("1.0.0"), entry("2.0.0"), entry("3.0.0", VersionStatus.REJECTED)).pin("1.0.0", by="ops")
    assert m.deployable().version == "1.0.0" and m.pin_history[-1].by == "ops"
    assert m.unpin().deployable().version == "2.0.0"


def test_only_a_validated_version_can_be_pinned():
    with pytest.raises(ManifestOperationRefused, match="not a validated version"):
        manifest(entry("1.0.0"), entry("2.0.0", VersionStatus.REJECTED)).pin("2.0.0")


def test_unpin_without_a_pin_changes_nothing():
    assert manifest(entry("1.0.0")).unpin() is None


def test_rollback_pins_the_newest_version_older_than_the_deployed_one_and_repeats():
    m = manifest(entry("1.0.0"), entry("1.1.0"), entry("2.0.0"), entry("1.5.0", VersionStatus.REJECTED))
    once = m.rollback(by="ops")
    assert once.pinned == "1.1.0" and once.pin_history[-1].action == "rollback"
    assert once.rollback().pinned == "1.0.0"
    with pytest.raises(ManifestOperationRefused, match="no validated version older"):
        once.rollback().rollback()


def test_a_schema_1_document_reads_with_the_new_fields_defaulted():
    old = {"schema_version": 1, "pinned": None, "entries": [entry("1.0.0").model_dump(mode="json")]}
    del old["entries"][0]["announced"], old["entries"][0]["package_name"]
    m = Manifest.model_validate(old)
    assert m.entries[0].announced is False and m.pin_history == [] and m.deployable().version == "1.0.0"


def test_an_upload_older_than_the_newest_validated_version_is_not_newer_unless_allowed():
    m = manifest(entry("2.0.0", at=T0))
    late = T0 + timedelta(seconds=5)
    assert [r.code for r in ordering_problems(m, entry("1.0.0"), upload("1.0.0", late))] == ["version_not_newer"]
    assert ordering_problems(m, entry("1.0.0"), upload("1.0.0", late, **{"flexrun-allow-older": "true"})) == []
    assert ordering_problems(m, entry("2.1.0"), upload("2.1.0", late)) == []


def test_a_version_that_is_already_validated_is_refused_even_when_allowed_older():
    m = manifest(entry("2.0.0"))
    same = upload("2.0.0", T0 + timedelta(seconds=5), **{"flexrun-allow-older": "true"})
    assert [r.code for r in ordering_problems(m, entry("2.0.0"), same)] == ["version_exists"]


def test_concurrent_uploads_get_the_same_verdicts_whatever_order_their_validations_finish_in():
    # 20 uploads created at the same time, on top of a 1.0.0 validated before them; 0.5.0 is too old.
    versions = [f"1.0.{i}" for i in range(1, 20)] + ["0.5.0"]
    created = T0 + timedelta(seconds=10)
    verdicts = set()
    for seed in range(10):
        order = versions[:]
        random.Random(seed).shuffle(order)
        m = manifest(entry("1.0.0", at=T0))
        for step, version in enumerate(order):
            candidate = entry(version, at=created + timedelta(seconds=1 + step))
            problems = ordering_problems(m, candidate, upload(version, created))
            status = VersionStatus.REJECTED if problems else VersionStatus.VALIDATED
            m = m.with_entry(candidate.model_copy(update={"status": status, "object_name": version}))
        verdicts.add(frozenset((e.version, e.status) for e in m.entries))
    assert len(verdicts) == 1
    (final,) = verdicts
    assert ("0.5.0", VersionStatus.REJECTED) in final
    assert sum(status is VersionStatus.VALIDATED for _, status in final) == 20
