"""Deploy by upload through the local cloud: concurrent uploads, duplicate and stale events, the CLI.

Versions here are 0.0.x with `flexrun-allow-older`, so they never become newer than a real trainer
another test uploads (0.1.0), whatever order the modules run in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

from deploy import topology
from local.demo import chain
from local.services.cloud import REPO_ROOT, LocalCloud
from shared.polling import poll
from tests.sdists import link, marker_package, sdist

pytestmark = pytest.mark.integration
ALLOW_OLDER = {"flexrun-allow-older": "true"}


def _bucket(cloud: LocalCloud) -> Any:
    return cloud.storage_client().bucket(topology.PACKAGE_BUCKET)


def _upload(cloud: LocalCloud, name: str, data: bytes, **metadata: str) -> Any:
    blob = _bucket(cloud).blob(f"packages/{name}")
    blob.metadata = {"uploader": "pytest", **metadata}
    blob.upload_from_string(data, content_type="application/gzip")
    return blob


def _entries(cloud: LocalCloud, object_name: str) -> list[dict[str, Any]]:
    manifest = chain.read_manifest(cloud) or {"entries": []}
    return [e for e in manifest["entries"] if e["object_name"] == object_name]


def _finalize_event(blob: Any, event_id: str) -> CloudEvent:
    """The event Eventarc delivers for this upload (StorageObjectData, string numbers as Google sends)."""
    data = {
        "bucket": blob.bucket.name,
        "name": blob.name,
        "generation": str(blob.generation),
        "metageneration": "1",
        "size": str(blob.size),
        "contentType": blob.content_type,
        "md5Hash": blob.md5_hash,
        "metadata": blob.metadata,
        "timeCreated": blob.time_created.isoformat().replace("+00:00", "Z"),
    }
    attributes = {
        "id": event_id,
        "type": topology.STORAGE_FINALIZED,
        "source": f"//storage.googleapis.com/projects/_/buckets/{blob.bucket.name}",
        "subject": f"objects/{blob.name}",
        "datacontenttype": "application/json",
    }
    return CloudEvent(attributes, data)


def _post(cloud: LocalCloud, event: CloudEvent) -> int:
    headers, body = to_binary(event)
    request = urllib.request.Request(cloud.function_url("validate-package"), data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status


def test_twenty_concurrent_uploads_all_land_in_the_manifest(local_cloud: LocalCloud):
    versions = [f"0.0.{i}" for i in range(100, 120)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        blobs = list(
            pool.map(lambda v: _upload(local_cloud, f"concurrent-{v}.tar.gz", sdist(v), **ALLOW_OLDER), versions)
        )
    for blob in blobs:
        chain.wait_for_manifest_entry(local_cloud, chain.Upload(blob.name, int(blob.generation)), timeout=90)
    manifest = chain.read_manifest(local_cloud)
    found = {
        e["version"]: e["status"] for e in manifest["entries"] if e["object_name"].startswith("packages/concurrent-")
    }
    assert found == {v: "validated" for v in versions}


def test_duplicate_finalize_event_changes_nothing_and_slack_hears_once(local_cloud: LocalCloud):
    blob = _upload(local_cloud, "dup-0.0.200.tar.gz", sdist("0.0.200", extra=[link("r/steal", "/etc/shadow")]))
    entry = chain.wait_for_manifest_entry(local_cloud, chain.Upload(blob.name, int(blob.generation)))
    assert entry["status"] == "rejected"
    poll(lambda: _entries(local_cloud, blob.name)[0]["announced"], timeout=30, what="the rejection to be announced")
    before = chain.read_manifest(local_cloud)
    event = _finalize_event(blob, "duplicate-delivery-1")
    assert [_post(local_cloud, event), _post(local_cloud, event)] == [200, 200]
    assert len(_entries(local_cloud, blob.name)) == 1
    assert chain.read_manifest(local_cloud)["updated_at"] == before["updated_at"]  # not rewritten at all
    assert len([m for m in local_cloud.slack_messages() if blob.name in m["text"]]) == 1


def test_duplicate_event_of_a_validated_upload_adds_no_entry(local_cloud: LocalCloud):
    blob = _upload(local_cloud, "dup-0.0.201.tar.gz", sdist("0.0.201"), **ALLOW_OLDER)
    entry = chain.wait_for_manifest_entry(local_cloud, chain.Upload(blob.name, int(blob.generation)))
    assert entry["status"] == "validated"
    _post(local_cloud, _finalize_event(blob, "duplicate-delivery-2"))
    assert _entries(local_cloud, blob.name) == [entry]


def test_event_for_an_overwritten_generation_is_ignored(local_cloud: LocalCloud):
    first = _upload(local_cloud, "overwritten.tar.gz", sdist("0.0.300"), **ALLOW_OLDER)
    stale = _finalize_event(first, "stale-delivery")
    second = _upload(local_cloud, "overwritten.tar.gz", sdist("0.0.301"), **ALLOW_OLDER)
    chain.wait_for_manifest_entry(local_cloud, chain.Upload(second.name, int(second.generation)))
    poll(
        lambda: "package event" in local_cloud.log_path("validate-package").read_text(),
        timeout=30,
        what="the first generation's event to be handled",
    )
    before = _entries(local_cloud, first.name)
    assert _post(local_cloud, stale) == 200
    assert _entries(local_cloud, first.name) == before
    if not any(e["generation"] == int(first.generation) for e in before):  # overwritten before it was read
        assert "package event superseded" in local_cloud.log_path("validate-package").read_text()
    assert any(e["generation"] == int(second.generation) for e in before)


def test_package_that_would_write_a_marker_is_validated_and_never_run(local_cloud: LocalCloud, tmp_path: Path):
    marker = tmp_path / "executed.marker"
    blob = _upload(local_cloud, "marker-0.0.400.tar.gz", marker_package(str(marker), "0.0.400"), **ALLOW_OLDER)
    entry = chain.wait_for_manifest_entry(local_cloud, chain.Upload(blob.name, int(blob.generation)))
    assert entry["status"] == "validated", entry["reasons"]
    assert not marker.exists()


def _announced(cloud: LocalCloud, upload: chain.Upload) -> bool:
    return bool(chain.wait_for_manifest_entry(cloud, upload)["announced"])


def _deployable_objects(cloud: LocalCloud) -> set[str]:
    return {blob.name for blob in _bucket(cloud).list_blobs(prefix="deployable/")}


def test_a_version_exists_rejection_leaves_nothing_deployable(local_cloud: LocalCloud):
    data = sdist("0.0.600")
    first = _upload(local_cloud, "same-0.0.600.tar.gz", data, **ALLOW_OLDER)
    validated = chain.wait_for_manifest_entry(local_cloud, chain.Upload(first.name, int(first.generation)))
    assert validated["status"] == "validated", validated["reasons"]
    before = _deployable_objects(local_cloud)
    again = _upload(local_cloud, "same-0.0.600.tar.gz", data, **ALLOW_OLDER)  # same name, same bytes
    other = _upload(local_cloud, "other-0.0.600.tar.gz", sdist("0.0.600", requires=("pymongo",)), **ALLOW_OLDER)
    for blob in (again, other):
        entry = chain.wait_for_manifest_entry(local_cloud, chain.Upload(blob.name, int(blob.generation)))
        assert [r["code"] for r in entry["reasons"]] == ["version_exists"]
        assert entry["uri"] == f"gs://{topology.PACKAGE_BUCKET}/{blob.name}"
        announced = chain.Upload(blob.name, int(blob.generation))
        poll(lambda u=announced: _announced(local_cloud, u), timeout=30, what="the rejection to be announced")
    deployable = _deployable_objects(local_cloud)
    assert deployable == before  # nothing published, nothing of the validated upload withdrawn
    assert validated["uri"].removeprefix(f"gs://{topology.PACKAGE_BUCKET}/") in deployable
    manifest = chain.read_manifest(local_cloud)
    deployable_uris = {
        e["uri"] for e in manifest["entries"] if e["uri"].startswith(f"gs://{topology.PACKAGE_BUCKET}/deployable/")
    }
    assert all(e["status"] == "validated" for e in manifest["entries"] if e["uri"] in deployable_uris)


def _cli(cloud: LocalCloud, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli", "package", "--env-file", str(cloud.state_dir / "env"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)


def test_cli_uploads_waits_for_the_verdict_lists_pins_rolls_back_and_unpins(local_cloud: LocalCloud, tmp_path: Path):
    good, bad = tmp_path / "cli-0.0.500.tar.gz", tmp_path / "cli-bad-0.0.501.tar.gz"
    good.write_bytes(sdist("0.0.500"))
    older = _upload(local_cloud, "cli-0.0.499.tar.gz", sdist("0.0.499"), **ALLOW_OLDER)
    chain.wait_for_manifest_entry(local_cloud, chain.Upload(older.name, int(older.generation)))
    bad.write_bytes(sdist("0.0.501", task=b"def main(:\n"))
    uploaded = _cli(local_cloud, "upload", str(good), "--allow-older", "--wait", "--uploader", "cli-test")
    assert uploaded.returncode == 0, uploaded.stderr
    assert "validated: version 0.0.500" in uploaded.stdout and "local cloud" in uploaded.stderr
    refused = _cli(local_cloud, "upload", str(bad), "--allow-older", "--wait")
    assert refused.returncode == 1 and "entry_module_syntax" in refused.stdout
    listed = _cli(local_cloud, "list")
    assert any("0.0.500" in line and "validated" in line and "cli-test" in line for line in listed.stdout.splitlines())
    try:
        assert "deployable version is now 0.0.500" in _cli(local_cloud, "pin", "0.0.500").stdout
        shown = json.loads(_cli(local_cloud, "show", "0.0.500").stdout)
        assert shown["pinned"] is True and shown["uploads"][0]["uploader"] == "cli-test"
        rolled = _cli(local_cloud, "rollback")
        assert rolled.returncode == 0 and "deployable version is now 0.0.499" in rolled.stdout
        assert _cli(local_cloud, "pin", "9.9.9").returncode != 0
    finally:
        assert "deployable version is now" in _cli(local_cloud, "unpin").stdout
    assert chain.read_manifest(local_cloud)["pinned"] is None
