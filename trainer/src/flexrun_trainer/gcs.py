"""The few Cloud Storage calls the trainer makes, through google-cloud-storage.

TensorFlow's own gs:// filesystem is not used: it is missing from tensorflow-cpu wheels and ignores
STORAGE_EMULATOR_HOST, while google-cloud-storage works on Vertex (default credentials) and against the
local fake-gcs-server alike. The client is created lazily, once per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flexrun_trainer.errors import ConfigError, DataError


def split_uri(uri: str) -> tuple[str, str]:
    """gs://bucket/some/prefix → ("bucket", "some/prefix")."""
    if not uri.startswith("gs://"):
        raise ConfigError(f"not a gs:// URI: {uri}")
    bucket, _, name = uri[len("gs://") :].partition("/")
    if not bucket:
        raise ConfigError(f"gs:// URI without a bucket: {uri}")
    return bucket, name


@lru_cache(maxsize=1)
def client() -> Any:
    from google.cloud import storage

    return storage.Client()


def download_bytes(uri: str) -> bytes:
    from google.api_core import exceptions as gexc

    bucket, name = split_uri(uri)
    try:
        data: bytes = client().bucket(bucket).blob(name).download_as_bytes()
    except gexc.NotFound as exc:
        raise DataError(f"{uri} does not exist") from exc
    except gexc.GoogleAPICallError as exc:
        raise DataError(f"cannot read {uri}: {exc}") from exc
    return data


def upload_file(local_path: str, uri: str, content_type: str | None = None) -> None:
    bucket, name = split_uri(uri)
    client().bucket(bucket).blob(name).upload_from_filename(local_path, content_type=content_type)


def upload_bytes(data: bytes, uri: str) -> None:
    bucket, name = split_uri(uri)
    client().bucket(bucket).blob(name).upload_from_string(data)


def delete_if_exists(uri: str) -> None:
    from google.api_core import exceptions as gexc

    bucket, name = split_uri(uri)
    try:
        client().bucket(bucket).blob(name).delete()
    except gexc.NotFound:
        pass
