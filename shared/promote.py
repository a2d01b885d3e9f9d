"""Package uploaded → validated → recorded in the manifest, or quarantined and reported.

Dedupe key: (bucket, object name, generation). A second delivery of the same upload finds its entry in
the manifest and only finishes side effects a crash may have left undone.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from shared import logs
from shared.errors import PackageRejected, TransientError
from shared.events import StoredObject
from shared.manifest import Manifest, ManifestEntry, ManifestStore, Reason, VersionStatus
from shared.notifier import Notifier, SlackMessage, fields, section
from shared.package_check import DEFAULT_LIMITS, PackageLimits, inspect_package
from shared.settings import Settings


@dataclass(frozen=True)
class PromotionOutcome:
    action: str  # "ignored" | "duplicate" | "superseded" | "validated" | "rejected"
    detail: str
    entry: ManifestEntry | None = None


def is_package_object(obj: StoredObject, settings: Settings) -> bool:
    return (
        obj.bucket == settings.gcp_bucket_name
        and obj.name.startswith(settings.flexrun_packages_prefix)
        and obj.name.endswith(".tar.gz")
    )


def _download_exact_generation(bucket: Any, obj: StoredObject) -> bytes | None:
    """The bytes of exactly this upload, or None when a newer upload replaced it (the event is stale)."""
    from google.api_core import exceptions as gexc

    try:
        return bucket.blob(obj.name).download_as_bytes(if_generation_match=obj.generation)
    except (gexc.NotFound, gexc.PreconditionFailed):
        return None
    except (gexc.ServiceUnavailable, gexc.TooManyRequests, gexc.InternalServerError) as exc:
        raise TransientError(f"downloading {obj.name} failed: {exc}") from exc


def _quarantine(bucket: Any, obj: StoredObject, settings: Settings) -> str:
    from google.api_core import exceptions as gexc

    target = settings.flexrun_quarantine_prefix + obj.name[len(settings.flexrun_packages_prefix) :]
    target = f"{target}.g{obj.generation}"
    try:
        bucket.copy_blob(bucket.blob(obj.name), bucket, target, if_generation_match=0, source_generation=obj.generation)
    except gexc.PreconditionFailed:
        pass  # already copied by an earlier delivery of this event
    except gexc.NotFound:
        pass  # the original is gone already: a previous delivery finished the move
    return f"gs://{bucket.name}/{target}"


def _remove_original(bucket: Any, obj: StoredObject) -> None:
    from google.api_core import exceptions as gexc

    try:
        bucket.blob(obj.name).delete(if_generation_match=obj.generation)
    except (gexc.NotFound, gexc.PreconditionFailed):
        pass  # gone already, or replaced by a newer upload we must not delete


def _rejection_message(entry: ManifestEntry) -> SlackMessage:
    reasons = "\n".join(f"• `{r.code}` {r.message}" for r in entry.reasons)
    text = f":no_entry: Package {entry.object_name} (generation {entry.generation}) was rejected"
    return SlackMessage(
        text=f"{text}: {'; '.join(r.code for r in entry.reasons)}",
        blocks=[
            section(f"{text}.\n{reasons}"),
            fields([("Uploaded by", entry.uploader or "unknown"), ("Quarantined at", entry.quarantine_uri or "-")]),
        ],
    )


def handle_package_upload(
    obj: StoredObject,
    *,
    settings: Settings,
    bucket: Any,
    manifest: ManifestStore,
    notifier: Notifier,
    limits: PackageLimits = DEFAULT_LIMITS,
) -> PromotionOutcome:
    if not is_package_object(obj, settings):
        return PromotionOutcome("ignored", f"{obj.bucket}/{obj.name} is not a trainer package")

    current, _ = manifest.read()
    known = current.find_upload(obj.name, obj.generation)
    if known is not None:
        if known.status is VersionStatus.REJECTED:
            _remove_original(bucket, obj)  # finish a move a crashed delivery may have left half done
        return PromotionOutcome("duplicate", "this upload is already in the manifest", known)

    started = time.monotonic()
    data = _download_exact_generation(bucket, obj)
    if data is None:
        return PromotionOutcome("superseded", "a newer generation replaced this upload; ignoring the stale event")

    uri = f"gs://{obj.bucket}/{obj.name}"
    uploader = obj.metadata.get("uploader") or obj.metadata.get("flexrun-uploader")
    try:
        info = inspect_package(data, entry_module=settings.flexrun_trainer_module, limits=limits)
        reasons: list[Reason] = _ordering_problems(current, info.version, obj.metadata)
        version, sha256 = info.version, info.sha256
    except PackageRejected as rejected:
        reasons = [Reason(code=c, message=m) for c, m in rejected.reasons]
        version, sha256 = "", hashlib.sha256(data).hexdigest()
    entry = ManifestEntry(
        version=version,
        status=VersionStatus.REJECTED if reasons else VersionStatus.VALIDATED,
        object_name=obj.name,
        generation=obj.generation,
        uri=uri,
        sha256=sha256,
        size=len(data),
        uploader=uploader,
        validation_seconds=round(time.monotonic() - started, 4),
        reasons=reasons,
    )

    if entry.status is VersionStatus.REJECTED:
        entry = entry.model_copy(update={"quarantine_uri": _quarantine(bucket, obj, settings)})
        notifier.send(_rejection_message(entry))
        manifest.update(lambda m: None if m.find_upload(obj.name, obj.generation) else m.with_entry(entry))
        _remove_original(bucket, obj)
        logs.warning("package rejected", object=obj.name, reasons=[r.code for r in reasons], sha256=sha256)
        return PromotionOutcome("rejected", "; ".join(r.code for r in reasons), entry)

    manifest.update(lambda m: None if m.find_upload(obj.name, obj.generation) else m.with_entry(entry))
    logs.notice(
        "package validated and promoted",
        object=obj.name,
        version=version,
        sha256=sha256,
        validation_seconds=entry.validation_seconds,
    )
    return PromotionOutcome("validated", f"version {version} is deployable", entry)


def _ordering_problems(current: Manifest, version: str, metadata: dict[str, str]) -> list[Reason]:
    """A new upload must be newer than the newest validated version unless the uploader allows it."""
    if metadata.get("flexrun-allow-older", "").lower() in ("1", "true", "yes"):
        return []
    newest = current.newest_validated()
    candidate = ManifestEntry(version=version, status=VersionStatus.VALIDATED, object_name="", generation=0, uri="")
    if (
        newest
        and newest.parsed_version
        and candidate.parsed_version
        and candidate.parsed_version <= newest.parsed_version
    ):
        return [
            Reason(
                code="version_not_newer",
                message=f"{version} is not newer than {newest.version}; set metadata flexrun-allow-older=true",
            )
        ]
    return []
