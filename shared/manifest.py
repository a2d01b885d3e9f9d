"""The manifest: one JSON document in the package bucket listing every uploaded version and its fate.

Written only through GCS generation preconditions (`if_generation_match`): two validations that finish
at the same moment both land, because the loser of the race re-reads and re-applies its change.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, Field

from shared import logs
from shared.errors import TransientError

SCHEMA_VERSION = 1


class VersionStatus(StrEnum):
    VALIDATED = "validated"
    REJECTED = "rejected"


class Reason(BaseModel):
    code: str
    message: str


class ManifestEntry(BaseModel):
    version: str
    status: VersionStatus
    object_name: str
    generation: int
    uri: str
    sha256: str = ""
    size: int = 0
    uploader: str | None = None
    recorded_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    validation_seconds: float | None = None
    reasons: list[Reason] = Field(default_factory=list)
    quarantine_uri: str | None = None

    @property
    def parsed_version(self) -> Version | None:
        try:
            return Version(self.version)
        except InvalidVersion:
            return None


class Manifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    updated_at: datetime | None = None
    pinned: str | None = None
    entries: list[ManifestEntry] = Field(default_factory=list)

    def find_upload(self, object_name: str, generation: int) -> ManifestEntry | None:
        return next((e for e in self.entries if e.object_name == object_name and e.generation == generation), None)

    def newest_validated(self) -> ManifestEntry | None:
        candidates = [e for e in self.entries if e.status is VersionStatus.VALIDATED and e.parsed_version]
        if not candidates:
            return None
        return max(candidates, key=lambda e: (e.parsed_version, e.recorded_at))

    def validated(self, version: str) -> ManifestEntry | None:
        matches = [e for e in self.entries if e.status is VersionStatus.VALIDATED and e.version == version]
        return max(matches, key=lambda e: e.recorded_at) if matches else None

    def deployable(self) -> ManifestEntry | None:
        """The pinned version when one is pinned, else the newest validated one."""
        if self.pinned:
            return self.validated(self.pinned)
        return self.newest_validated()

    def with_entry(self, entry: ManifestEntry) -> Manifest:
        kept = [e for e in self.entries if (e.object_name, e.generation) != (entry.object_name, entry.generation)]
        return self.model_copy(update={"entries": [*kept, entry]})


class ManifestStore:
    """Reads and conditionally rewrites the manifest object through a google-cloud-storage bucket."""

    def __init__(self, bucket: Any, object_name: str, *, max_attempts: int = 12) -> None:
        self._bucket = bucket
        self._object_name = object_name
        self._max_attempts = max_attempts

    def read(self) -> tuple[Manifest, int]:
        """The manifest and the generation it was read at (0 when it does not exist yet)."""
        from google.api_core import exceptions as gexc

        blob = self._bucket.blob(self._object_name)
        try:
            raw = blob.download_as_bytes()
        except gexc.NotFound:
            return Manifest(), 0
        except (gexc.ServiceUnavailable, gexc.TooManyRequests, gexc.InternalServerError) as exc:
            raise TransientError(f"reading manifest failed: {exc}") from exc
        return Manifest.model_validate(json.loads(raw)), int(blob.generation or 0)

    def update(self, change: Callable[[Manifest], Manifest | None]) -> Manifest:
        """Apply `change` to the current manifest and write it only if nobody wrote in between.

        `change` returns None when there is nothing to do (the idempotent case), which writes nothing.
        """
        from google.api_core import exceptions as gexc

        for attempt in range(1, self._max_attempts + 1):
            current, generation = self.read()
            changed = change(current)
            if changed is None:
                return current
            changed = changed.model_copy(update={"updated_at": datetime.now(timezone.utc)})
            body = changed.model_dump_json(indent=2).encode()
            blob = self._bucket.blob(self._object_name)
            blob.cache_control = "no-store"  # readers must never see a stale manifest
            try:
                blob.upload_from_string(body, content_type="application/json", if_generation_match=generation)
                logs.info("manifest written", manifest_generation=blob.generation, attempt=attempt)
                return changed
            except gexc.PreconditionFailed:
                logs.info("manifest changed underneath; retrying", attempt=attempt)
                time.sleep(random.uniform(0.02, 0.1) * attempt)  # jitter so racers don't collide again
            except (gexc.ServiceUnavailable, gexc.TooManyRequests, gexc.InternalServerError) as exc:
                raise TransientError(f"writing manifest failed: {exc}") from exc
        raise TransientError(f"manifest update lost the race {self._max_attempts} times")
