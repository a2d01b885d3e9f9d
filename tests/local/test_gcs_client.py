"""The functions' Cloud Storage client (shared/cloud/gcs.py) against the local stand-in: generations,
preconditions (412 → PreconditionFailed), create-only copies, streamed reads, NotFound."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
import uuid

import pytest

from deploy import topology
from local.services.cloud import LocalCloud
from shared.cloud.gcs import Bucket, StorageClient
from shared.cloud.http import NotFound, PreconditionFailed

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(recording_cloud: LocalCloud) -> Bucket:
    return recording_cloud.function_storage().bucket(topology.STAGING_BUCKET)


def _name(prefix: str = "gcs-client") -> str:
    return f"{prefix}/{uuid.uuid4().hex}/a name with spaces+ü.json"  # slashes and escapes in the path


def test_a_download_returns_the_bytes_and_sets_the_generation_the_upload_answered(bucket: Bucket) -> None:
    written = bucket.blob(_name())
    written.cache_control = "no-store"
    written.upload_from_string(b'{"v": 1}', content_type="application/json", if_generation_match=0)
    assert written.generation

    read = bucket.blob(written.name)
    assert read.download_as_bytes() == b'{"v": 1}' and read.generation == written.generation
    assert bucket.blob(written.name).download_as_text() == '{"v": 1}'
    stored = bucket.get_blob(written.name)
    assert stored is not None
    assert (stored.generation, stored.cache_control, stored.content_type) == (
        written.generation,
        "no-store",
        "application/json",
    )


def test_a_conditional_upload_against_a_newer_generation_is_refused_with_precondition_failed(bucket: Bucket) -> None:
    first = bucket.blob(_name())
    first.upload_from_string(b"1", if_generation_match=0)

    with pytest.raises(PreconditionFailed) as refused:
        bucket.blob(first.name).upload_from_string(b"lost race", if_generation_match=0)
    assert refused.value.code == 412 and not refused.value.retryable
    with pytest.raises(PreconditionFailed):
        bucket.blob(first.name).upload_from_string(b"stale", if_generation_match=int(first.generation or 0) + 1)

    second = bucket.blob(first.name)
    second.upload_from_string(b"2", if_generation_match=first.generation)
    assert second.generation != first.generation and bucket.blob(first.name).download_as_bytes() == b"2"


def test_a_create_only_copy_onto_an_existing_name_is_refused_and_keeps_the_first_copy(bucket: Bucket) -> None:
    source, target = bucket.blob(_name("packages")), _name("deployable")
    source.upload_from_string(b"validated bytes")
    copied = bucket.copy_blob(source, bucket, target, if_generation_match=0, source_generation=source.generation)
    assert copied.name == target and copied.generation
    bucket.blob(source.name).upload_from_string(b"a later upload")

    with pytest.raises(PreconditionFailed):
        bucket.copy_blob(bucket.blob(source.name), bucket, target, if_generation_match=0)
    assert bucket.blob(target).download_as_bytes() == b"validated bytes"


def test_a_multi_megabyte_object_streams_through_open_without_being_held_in_memory(bucket: Bucket) -> None:
    data = os.urandom(12 << 20)
    blob = bucket.blob(_name())
    blob.upload_from_string(data, content_type="application/gzip")
    expected, size = hashlib.sha256(data).hexdigest(), len(data)
    del data

    digest, read = hashlib.sha256(), 0
    tracemalloc.start()
    try:
        with bucket.blob(blob.name).open("rb", chunk_size=1 << 20, if_generation_match=blob.generation) as reader:
            while chunk := reader.read(256 << 10):
                digest.update(chunk)
                read += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (read, digest.hexdigest()) == (size, expected)
    assert peak < 4 << 20, f"peak {peak} bytes while streaming {size}"


def test_a_read_of_a_replaced_generation_is_refused_before_any_byte(bucket: Bucket) -> None:
    old = bucket.blob(_name())
    old.upload_from_string(b"old")
    bucket.blob(old.name).upload_from_string(b"new")

    with pytest.raises(PreconditionFailed):
        with bucket.blob(old.name).open("rb", if_generation_match=old.generation):
            pytest.fail("a stale generation must not open")
    with pytest.raises(PreconditionFailed):
        bucket.blob(old.name).download_as_bytes(if_generation_match=old.generation)


def test_a_delete_with_a_stale_generation_is_refused_and_the_newer_object_stays(bucket: Bucket) -> None:
    old = bucket.blob(_name())
    old.upload_from_string(b"old")
    new = bucket.blob(old.name)
    new.upload_from_string(b"new")

    with pytest.raises(PreconditionFailed):
        bucket.blob(old.name).delete(if_generation_match=old.generation)
    assert bucket.blob(old.name).exists()

    bucket.blob(old.name).delete(if_generation_match=new.generation)
    assert not bucket.blob(old.name).exists()


def test_a_missing_object_or_bucket_is_not_found(recording_cloud: LocalCloud, bucket: Bucket) -> None:
    missing = bucket.blob(_name())
    with pytest.raises(NotFound) as absent:
        missing.download_as_bytes()
    assert absent.value.code == 404 and not absent.value.retryable
    with pytest.raises(NotFound):
        missing.delete()
    with pytest.raises(NotFound):
        with missing.open("rb"):
            pytest.fail("a missing object must not open")
    assert not missing.exists() and bucket.get_blob(missing.name) is None
    storage: StorageClient = recording_cloud.function_storage()
    assert storage.lookup_bucket(topology.STAGING_BUCKET) is not None
    assert storage.lookup_bucket(f"no-such-bucket-{uuid.uuid4().hex[:8]}") is None
