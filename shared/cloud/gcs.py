"""Cloud Storage's JSON API for the functions: the few calls they make, on shared/cloud/http.py.

Why not google-cloud-storage: importing it costs ~185 ms of every function instance's first event
(the cold-start goal is 2x a hello-world function). The classes here keep its method names and keyword
arguments (`bucket.blob(name).download_as_bytes()`, `upload_from_string(..., if_generation_match=)`,
`copy_blob(..., source_generation=)`), so the core code and its test fakes read the same; errors are
shared.cloud.http's (`NotFound`, `PreconditionFailed`, `retryable` for 408/429/5xx).

Requests, from the JSON API reference (https://cloud.google.com/storage/docs/json_api/v1/objects):
  read      GET  /storage/v1/b/B/o/O?alt=media   (objects/get; the generation in `x-goog-generation`)
  metadata  GET  /storage/v1/b/B/o/O             (objects/get)
  write     POST /upload/storage/v1/b/B/o?uploadType=multipart   (objects/insert, multipart: metadata
            such as cacheControl travels with the bytes, as google-cloud-storage sends small uploads)
  copy      POST /storage/v1/b/B/o/O/copyTo/b/B2/o/O2   (objects/copy, what `Bucket.copy_blob` sends)
  delete    DELETE /storage/v1/b/B/o/O               (objects/delete)
Preconditions are the `ifGenerationMatch` / `sourceGeneration` query parameters of those pages
(https://cloud.google.com/storage/docs/request-preconditions); 0 means "only if absent".
Object names are percent-encoded whole, slashes too
(https://cloud.google.com/storage/docs/request-endpoints#encoding).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from shared.cloud.http import TRANSIENT, JsonApi, NotFound, Response

DEFAULT_ENDPOINT = "https://storage.googleapis.com"
# Transient failures of idempotent requests are retried here, as google-cloud-storage's DEFAULT_RETRY
# does (https://cloud.google.com/storage/docs/retry-strategy): reads, deletes and writes with a
# generation precondition. A write without one may have landed; the event's redelivery decides.
ATTEMPTS = 3
BACKOFF_SECONDS = 0.2
T = TypeVar("T")


def emulator_endpoint() -> str | None:
    """STORAGE_EMULATOR_HOST as a base URL (the variable may omit the scheme, as the SDKs accept)."""
    host = os.environ.get("STORAGE_EMULATOR_HOST")
    if not host:
        return None
    return host if "://" in host else f"http://{host}"


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


class StorageClient:
    """One project's Cloud Storage at `endpoint`; an `http://` endpoint (a local stand-in) sends no credentials."""

    def __init__(self, project: str, endpoint: str = DEFAULT_ENDPOINT, *, anonymous: bool | None = None) -> None:
        self.project = project
        self.api = JsonApi(endpoint, anonymous=anonymous)

    def bucket(self, name: str) -> Bucket:
        return Bucket(self, name)

    def lookup_bucket(self, name: str) -> Bucket | None:
        """The bucket if it exists (buckets/get), else None; other errors raise."""
        try:
            self.call(lambda: self.api.request("GET", f"storage/v1/b/{_quote(name)}"), idempotent=True)
        except NotFound:
            return None
        return Bucket(self, name)

    def call(self, send: Callable[[], T], *, idempotent: bool) -> T:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return send()
            except TRANSIENT:  # 408, 429, 5xx, or no answer at all
                if not idempotent or attempt == ATTEMPTS:
                    raise
                time.sleep(BACKOFF_SECONDS * attempt * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")  # the loop returns or raises


class Bucket:
    def __init__(self, client: StorageClient, name: str) -> None:
        self.client, self.name = client, name

    def __repr__(self) -> str:
        return f"<Bucket {self.name}>"

    def blob(self, name: str, generation: int | None = None) -> Blob:
        return Blob(name, self, generation=generation)

    def get_blob(self, name: str) -> Blob | None:
        """The object's metadata (its generation) as a Blob, or None when it does not exist."""
        blob = self.blob(name)
        try:
            blob.reload()
        except NotFound:
            return None
        return blob

    def copy_blob(
        self,
        blob: Blob,
        destination_bucket: Bucket,
        new_name: str | None = None,
        *,
        if_generation_match: int | None = None,
        source_generation: int | None = None,
    ) -> Blob:
        """objects/copy of `blob` (its `source_generation` when given) to `destination_bucket/new_name`.

        `if_generation_match` is the destination's precondition: 0 refuses (412) an existing object."""
        target = destination_bucket.blob(new_name or blob.name)
        path = f"{blob.path}/copyTo/b/{_quote(destination_bucket.name)}/o/{_quote(target.name)}"
        params = {"ifGenerationMatch": if_generation_match, "sourceGeneration": source_generation}
        response = self.client.call(
            lambda: self.client.api.request("POST", path, params=params, body=b""),
            idempotent=if_generation_match is not None,
        )
        target._set_properties(response.json())
        return target


class Blob:
    """An object name in a bucket; `generation` is filled in by a read, a write or `reload()`."""

    def __init__(self, name: str, bucket: Bucket, *, generation: int | None = None) -> None:
        self.name, self.bucket, self.generation = name, bucket, generation
        self.cache_control: str | None = None
        self.content_type: str | None = None
        self.size: int | None = None
        self.metadata: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"<Blob {self.bucket.name}/{self.name} generation={self.generation}>"

    @property
    def path(self) -> str:
        return f"storage/v1/b/{_quote(self.bucket.name)}/o/{_quote(self.name)}"

    @property
    def _client(self) -> StorageClient:
        return self.bucket.client

    def _set_properties(self, resource: dict[str, Any]) -> None:
        # The JSON API writes int64 fields such as generation and size as strings.
        if resource.get("generation") is not None:
            self.generation = int(resource["generation"])
        if resource.get("size") is not None:
            self.size = int(resource["size"])
        self.content_type = resource.get("contentType", self.content_type)
        self.cache_control = resource.get("cacheControl", self.cache_control)
        self.metadata = resource.get("metadata", self.metadata)

    def _generation_from(self, response: Response | http.client.HTTPResponse) -> None:
        found = response.headers.get("x-goog-generation")
        if found:
            self.generation = int(found)

    def reload(self) -> None:
        response = self._client.call(lambda: self._client.api.request("GET", self.path), idempotent=True)
        self._set_properties(response.json())

    def exists(self) -> bool:
        try:
            params = {"fields": "name"}
            self._client.call(lambda: self._client.api.request("GET", self.path, params=params), idempotent=True)
        except NotFound:
            return False
        return True

    def download_as_bytes(self, *, if_generation_match: int | None = None) -> bytes:
        params = {"alt": "media", "ifGenerationMatch": if_generation_match}
        response = self._client.call(lambda: self._client.api.request("GET", self.path, params=params), idempotent=True)
        self._generation_from(response)
        return response.body

    def download_as_text(self, encoding: str = "utf-8", *, if_generation_match: int | None = None) -> str:
        return self.download_as_bytes(if_generation_match=if_generation_match).decode(encoding)

    def upload_from_string(
        self, data: str | bytes, content_type: str = "text/plain", *, if_generation_match: int | None = None
    ) -> None:
        """objects/insert of `data` with this blob's metadata; `if_generation_match=0`: only if absent."""
        payload = data.encode() if isinstance(data, str) else data
        resource: dict[str, Any] = {"name": self.name, "contentType": content_type}
        if self.cache_control:
            resource["cacheControl"] = self.cache_control
        if self.metadata:
            resource["metadata"] = self.metadata
        body, boundary = _multipart(resource, payload, content_type)
        path = f"upload/storage/v1/b/{_quote(self.bucket.name)}/o"
        params = {"uploadType": "multipart", "ifGenerationMatch": if_generation_match}
        headers = {"Content-Type": f'multipart/related; boundary="{boundary}"'}
        response = self._client.call(
            lambda: self._client.api.request("POST", path, params=params, body=body, headers=headers),
            idempotent=if_generation_match is not None,
        )
        self._set_properties(response.json())

    def delete(self, *, if_generation_match: int | None = None) -> None:
        params = {"ifGenerationMatch": if_generation_match}
        self._client.call(lambda: self._client.api.request("DELETE", self.path, params=params), idempotent=True)

    @contextmanager
    def open(
        self, mode: str = "rb", *, chunk_size: int | None = None, if_generation_match: int | None = None
    ) -> Iterator[ObjectReader]:
        """The object's bytes as a forward-only file, read off one streamed response: memory stays
        flat however large the object. `chunk_size` is accepted for google-cloud-storage's signature;
        reads are as large as the caller asks. A precondition failure raises here, before any byte."""
        if mode != "rb":
            raise ValueError(f"only mode 'rb' is supported, not {mode!r}")
        params = {"alt": "media", "ifGenerationMatch": if_generation_match}
        with ExitStack() as stack:  # opening (not reading) is retried: no byte has reached the caller yet
            response = self._client.call(
                lambda: stack.enter_context(self._client.api.stream(self.path, params=params)), idempotent=True
            )
            self._generation_from(response)
            yield ObjectReader(response)


class ObjectReader:
    """`read(n)` over a streamed download; a connection lost mid-body is a ConnectionError (an OSError),
    as the SDK's transport raised it, so callers' transient-error handling still sees it."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self._response = response

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._response.read(None if size is None or size < 0 else size)
        except http.client.HTTPException as exc:  # IncompleteRead: the server closed early
            raise ConnectionError(f"download interrupted: {exc!r}") from exc


def _multipart(resource: dict[str, Any], data: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart/related body: the object's JSON metadata, then its bytes
    (https://cloud.google.com/storage/docs/uploading-objects#uploading-an-object, JSON API multipart)."""
    boundary = f"flexrun-{uuid.uuid4().hex}"
    body = b"".join(
        (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
            json.dumps(resource).encode(),
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode(),
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )
    return body, boundary
