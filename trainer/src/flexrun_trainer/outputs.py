"""Writing the run's files so a reader never sees a half-written set.

Every file is first written into a local staging directory. Publishing then moves each into place
(local: `os.replace`, atomic on one filesystem; gs://: one upload per object, atomic per object) and
writes `_SUCCESS` last. A stale `_SUCCESS` (and `outcome.json`) from an earlier run is removed before
training starts, so "`_SUCCESS` exists" always means "every file listed in it is complete and from the
same run". `_SUCCESS` holds a small JSON manifest (names, sizes, sha256) of the files it vouches for.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from typing import Any

from flexrun_trainer.errors import ConfigError

SUCCESS = "_SUCCESS"
# Removed before a run starts: an earlier run's verdicts must never be read as this run's.
STALE = (SUCCESS, "outcome.json")
_CONTENT_TYPES = {".json": "application/json", ".png": "image/png", ".keras": "application/zip"}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class OutputDir:
    """A local directory or a gs://bucket/prefix that receives the run's files, `_SUCCESS` last."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/") if target.startswith("gs://") else target
        self.is_gcs = target.startswith("gs://")
        try:
            if not self.is_gcs:
                os.makedirs(target, exist_ok=True)
            # Local: stage inside the target so os.replace never crosses filesystems.
            self.staging = tempfile.mkdtemp(prefix=".staging-", dir=None if self.is_gcs else target)
        except OSError as exc:
            raise ConfigError(f"cannot create output directory {target}: {exc}") from exc
        self.published: list[str] = []

    def staged(self, name: str) -> str:
        """Where to write `name` before it is published."""
        return os.path.join(self.staging, name)

    def _final(self, name: str) -> str:
        return f"{self.target}/{name}" if self.is_gcs else os.path.join(self.target, name)

    def clear_success(self) -> None:
        if self.is_gcs:
            from flexrun_trainer import gcs

            probe = self._final(".flexrun-write-probe")
            try:
                for stale in STALE:
                    gcs.delete_if_exists(self._final(stale))
                # A write, not a bucket lookup: a missing bucket or a service account without
                # object-create permission fails here, before training, not after it.
                gcs.upload_bytes(b"", probe)
                gcs.delete_if_exists(probe)
            except Exception as exc:
                raise ConfigError(f"cannot write to {self.target}: {exc}") from exc
        else:
            for stale in STALE:
                try:
                    os.remove(self._final(stale))
                except FileNotFoundError:
                    pass

    def write_json(self, name: str, doc: Any) -> None:
        with open(self.staged(name), "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, sort_keys=False, allow_nan=False)
            fh.write("\n")

    def _put(self, name: str) -> None:
        src = self.staged(name)
        if self.is_gcs:
            from flexrun_trainer import gcs

            gcs.upload_file(src, self._final(name), _CONTENT_TYPES.get(os.path.splitext(name)[1]))
        else:
            os.replace(src, self._final(name))
        self.published.append(name)

    def publish(self, names: list[str], package_version: str) -> dict[str, Any]:
        """Publish the staged files in order, then `_SUCCESS` with their manifest; returns it."""
        manifest: dict[str, Any] = {
            "package_version": package_version,
            "written_at": datetime.now(timezone.utc).isoformat(),
            "files": {n: {"bytes": os.path.getsize(self.staged(n)), "sha256": _sha256(self.staged(n))} for n in names},
        }
        for name in names:
            self._put(name)
        self.write_json(SUCCESS, manifest)
        self._put(SUCCESS)
        return manifest

    def cleanup(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
