"""The manifest: one JSON document in the package bucket listing every uploaded version and its fate.

Written only through GCS generation preconditions (`if_generation_match`): two validations that finish
at the same moment both land, because the loser of the race re-reads and re-applies its change. Pin,
unpin and rollback are changes like any other, so they race safely with validations too.

Schema history: 1 = entries + `pinned`; 2 adds `package_name`, `announced` per entry and `pin_history`.
A version-1 document reads as version 2 (the new fields have defaults) and is written back as 2.
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

from shared.cloud.http import RETRYABLE, NotFound, PreconditionFailed
from shared.config import logs
from shared.errors import ConfigurationError, PermanentError, TransientError

SCHEMA_VERSION = 2


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ManifestOperationRefused(PermanentError):
    """A pin, unpin or rollback that the manifest's current state does not allow."""

    reason_code = "manifest_operation_refused"


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
    package_name: str = ""
    sha256: str = ""
    size: int = 0
    uploader: str | None = None
    recorded_at: datetime = Field(default_factory=utc_now)
    validation_seconds: float | None = None
    reasons: list[Reason] = []
    quarantine_uri: str | None = None
    announced: bool = False  # a rejection's Slack message has been sent
    # The module jobs run with `python -m` (the package's `[tool.flexrun] entry-module`, else the setting
    # it was validated against); "" in entries recorded before it was: FLEXRUN_TRAINER_MODULE.
    entry_module: str = ""

    @property
    def parsed_version(self) -> Version | None:
        try:
            return Version(self.version)
        except InvalidVersion:
            return None


class PinEvent(BaseModel):
    action: str  # "pin" | "unpin" | "rollback"
    version: str | None
    previous: str | None
    by: str | None = None
    at: datetime = Field(default_factory=utc_now)


class Manifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    updated_at: datetime | None = None
    pinned: str | None = None
    entries: list[ManifestEntry] = []
    pin_history: list[PinEvent] = []

    def find_upload(self, object_name: str, generation: int) -> ManifestEntry | None:
        return next((e for e in self.entries if e.object_name == object_name and e.generation == generation), None)

    def newer_upload_of(self, object_name: str, generation: int) -> ManifestEntry | None:
        """An entry for a later generation of the same object: an event for this one is stale."""
        return next((e for e in self.entries if e.object_name == object_name and e.generation > generation), None)

    def _validated_entries(self) -> list[ManifestEntry]:
        return [e for e in self.entries if e.status is VersionStatus.VALIDATED and e.parsed_version]

    def newest_validated(self, recorded_before: datetime | None = None) -> ManifestEntry | None:
        candidates = [
            e for e in self._validated_entries() if recorded_before is None or e.recorded_at < recorded_before
        ]
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

    def pin(self, version: str, by: str | None = None, action: str = "pin") -> Manifest:
        if self.validated(version) is None:
            known = ", ".join(e.version for e in self._validated_entries()) or "none"
            raise ManifestOperationRefused(f"cannot pin {version}: it is not a validated version (validated: {known})")
        event = PinEvent(action=action, version=version, previous=self.pinned, by=by)
        return self.model_copy(update={"pinned": version, "pin_history": [*self.pin_history, event]})

    def unpin(self, by: str | None = None) -> Manifest | None:
        if self.pinned is None:
            return None  # nothing to do: no write
        event = PinEvent(action="unpin", version=None, previous=self.pinned, by=by)
        return self.model_copy(update={"pinned": None, "pin_history": [*self.pin_history, event]})

    def rollback(self, by: str | None = None) -> Manifest:
        """Pin the newest validated version older than the one deployed now."""
        current = self.deployable()
        if current is None or current.parsed_version is None:
            raise ManifestOperationRefused("nothing is deployed, so there is nothing to roll back from")
        older = [e for e in self._validated_entries() if e.parsed_version and e.parsed_version < current.parsed_version]
        if not older:
            raise ManifestOperationRefused(f"no validated version older than {current.version}")
        target = max(older, key=lambda e: (e.parsed_version, e.recorded_at))
        return self.pin(target.version, by, action="rollback")


class ManifestStore:
    """Reads and conditionally rewrites the manifest object through a Cloud Storage bucket (shared/cloud/gcs.py)."""

    def __init__(self, bucket: Any, object_name: str, *, max_attempts: int = 12) -> None:
        self._bucket = bucket
        self._object_name = object_name
        self._max_attempts = max_attempts

    def read(self) -> tuple[Manifest, int]:
        """The manifest and the generation it was read at (0 when it does not exist yet)."""
        blob = self._bucket.blob(self._object_name)
        try:
            raw = blob.download_as_bytes()
        except NotFound:
            return Manifest(), 0
        except RETRYABLE as exc:
            raise TransientError(f"reading manifest failed: {exc}") from exc
        return Manifest.model_validate(json.loads(raw)), int(blob.generation or 0)

    def update(self, change: Callable[[Manifest], Manifest | None]) -> Manifest:
        """Apply `change` to the current manifest and write it only if nobody wrote in between.

        `change` returns None when there is nothing to do (the idempotent case), which writes nothing.
        """
        for attempt in range(1, self._max_attempts + 1):
            current, generation = self.read()
            if current.schema_version > SCHEMA_VERSION:
                # Rewriting it would drop what a newer flexrun recorded: retry until this code is upgraded.
                raise ConfigurationError(
                    f"manifest schema {current.schema_version} is newer than this code's {SCHEMA_VERSION}"
                )
            changed = change(current)
            if changed is None:
                return current
            changed = changed.model_copy(update={"updated_at": utc_now(), "schema_version": SCHEMA_VERSION})
            body = changed.model_dump_json(indent=2).encode()
            blob = self._bucket.blob(self._object_name)
            blob.cache_control = "no-store"  # readers must never see a stale manifest
            try:
                blob.upload_from_string(body, content_type="application/json", if_generation_match=generation)
                logs.info("manifest written", manifest_generation=blob.generation, attempt=attempt)
                return changed
            except PreconditionFailed:
                logs.info("manifest changed underneath; retrying", attempt=attempt)
                time.sleep(random.uniform(0.02, 0.1) * attempt)  # jitter so racers don't collide again
            except RETRYABLE as exc:
                raise TransientError(f"writing manifest failed: {exc}") from exc
        raise TransientError(f"manifest update lost the race {self._max_attempts} times")
