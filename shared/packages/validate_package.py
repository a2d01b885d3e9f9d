"""Package uploaded → validated → recorded in the manifest, or quarantined and reported.

Dedupe key: (bucket, object name, generation). Only the delivery whose conditional manifest write
creates the entry does the side effects; a later delivery of the same upload finds the entry and only
finishes what a crashed delivery left undone (its Slack message is sent once, `announced` says so).

Version order, and why it does not depend on which validation finishes first: an upload must be newer
than the newest version that was already validated *when it was uploaded* (entries recorded before the
object's creation time), unless its metadata says `flexrun-allow-older: true`. Uploads made at the same
time therefore never judge each other, whatever order their validations finish in. A version number
names one content: a second upload of an already validated version is `version_exists` (for two
concurrent uploads of the same version, the first one recorded wins). Both rules are evaluated inside the
manifest's conditional write, so the check and the write are one atomic step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared.cloud.http import RETRYABLE, TRANSIENT, NotFound, PreconditionFailed
from shared.config import logs
from shared.config.settings import Settings
from shared.errors import TransientError
from shared.events.cloudevents import StoredObject
from shared.notify.slack import Notifier, SlackMessage, fields, section
from shared.packages.manifest import Manifest, ManifestEntry, ManifestStore, Reason, VersionStatus, utc_now
from shared.packages.pins import default_pins
from shared.packages.safety import Inspection, PackageLimits, examine_package

ALLOW_OLDER_KEY = "flexrun-allow-older"
UPLOADER_KEYS = ("uploader", "flexrun-uploader")
# A duplicate delivery younger than this leaves an unfinished rejection to the delivery that recorded it.
ANNOUNCE_GRACE = timedelta(seconds=120)
_READ_CHUNK = 4 << 20


@dataclass(frozen=True)
class PromotionOutcome:
    action: str  # "ignored" | "duplicate" | "superseded" | "validated" | "rejected"
    detail: str
    entry: ManifestEntry | None = None


def limits_for(settings: Settings) -> PackageLimits:
    denied = frozenset(n.strip() for n in settings.flexrun_denied_requirements.split(",") if n.strip())
    return PackageLimits(
        max_compressed_bytes=settings.flexrun_max_package_bytes,
        max_uncompressed_bytes=settings.flexrun_max_unpacked_bytes,
        max_members=settings.flexrun_max_package_members,
        max_ratio=settings.flexrun_max_inflation_ratio,
        denied_requirements=denied,
    )


def is_package_object(obj: StoredObject, settings: Settings) -> bool:
    return (
        obj.bucket == settings.gcp_bucket_name
        and obj.name.startswith(settings.flexrun_packages_prefix)
        and obj.name.endswith(".tar.gz")
    )


def _examine_exact_generation(
    bucket: Any, obj: StoredObject, settings: Settings, limits: PackageLimits
) -> Inspection | None:
    """Stream exactly this upload through the checks; None when a newer upload replaced it (stale event)."""
    blob = bucket.blob(obj.name)
    try:
        with blob.open("rb", chunk_size=_READ_CHUNK, if_generation_match=obj.generation) as reader:
            return examine_package(reader, entry_module=settings.flexrun_trainer_module, limits=limits, size=obj.size)
    except (NotFound, PreconditionFailed):
        return None
    except TRANSIENT as exc:  # OSError: the connection broke mid-read
        raise TransientError(f"downloading {obj.name} failed: {exc}") from exc


def _quarantine_target(obj: StoredObject, settings: Settings) -> str:
    return f"{settings.flexrun_quarantine_prefix}{obj.name[len(settings.flexrun_packages_prefix) :]}.g{obj.generation}"


def _quarantine(bucket: Any, obj: StoredObject, target: str) -> None:
    try:
        bucket.copy_blob(bucket.blob(obj.name), bucket, target, if_generation_match=0, source_generation=obj.generation)
    except PreconditionFailed:
        pass  # already copied by an earlier delivery of this event
    except NotFound:
        pass  # the original is gone already: a previous delivery finished the move


def _remove_original(bucket: Any, obj: StoredObject) -> None:
    try:
        bucket.blob(obj.name).delete(if_generation_match=obj.generation)
    except (NotFound, PreconditionFailed):
        pass  # gone already, or replaced by a newer upload we must not delete


def _rejection_message(entry: ManifestEntry) -> SlackMessage:
    reasons = "\n".join(f"• `{r.code}` {r.message}" for r in entry.reasons)
    text = f":no_entry: Package {entry.object_name} (generation {entry.generation}) was rejected"
    return SlackMessage(
        text=f"{text}: {'; '.join(r.code for r in entry.reasons)}",
        blocks=[
            section(f"{text}.\n{reasons}"[:2900]),  # Slack refuses section text over 3000 characters
            fields([("Uploaded by", entry.uploader or "unknown"), ("Quarantined at", entry.quarantine_uri or "-")]),
        ],
    )


def ordering_problems(manifest: Manifest, entry: ManifestEntry, obj: StoredObject) -> list[Reason]:
    """The version rules of the module docstring, judged against `manifest` as it is being written."""
    same = manifest.validated(entry.version)
    if same is not None:
        identical = " (identical content)" if same.sha256 == entry.sha256 else ""
        return [Reason(code="version_exists", message=f"{entry.version} is already validated as {same.uri}{identical}")]
    if obj.metadata.get(ALLOW_OLDER_KEY, "").lower() in ("1", "true", "yes"):
        return []
    newest = manifest.newest_validated(recorded_before=obj.time_created)
    if newest and newest.parsed_version and entry.parsed_version and entry.parsed_version <= newest.parsed_version:
        return [
            Reason(
                code="version_not_newer",
                message=f"{entry.version} is not newer than {newest.version}; set metadata {ALLOW_OLDER_KEY}=true",
            )
        ]
    return []


def _record(
    manifest: ManifestStore, entry: ManifestEntry, obj: StoredObject, quarantine_uri: str
) -> ManifestEntry | None:
    """Write the entry under the version rules; None when another delivery recorded this upload first."""
    written: list[ManifestEntry] = []

    def change(current: Manifest) -> Manifest | None:
        written.clear()
        if current.find_upload(obj.name, obj.generation):
            return None
        final = entry.model_copy(update={"recorded_at": utc_now()})
        if final.status is VersionStatus.VALIDATED:
            if problems := ordering_problems(current, final, obj):
                # Rejected: the entry names the upload itself, never the copy jobs would run.
                final = final.model_copy(
                    update={
                        "status": VersionStatus.REJECTED,
                        "reasons": problems,
                        "quarantine_uri": quarantine_uri,
                        "uri": f"gs://{obj.bucket}/{obj.name}",
                    }
                )
        written.append(final)
        return current.with_entry(final)

    manifest.update(change)
    return written[0] if written else None


def _withdraw_deployable(bucket: Any, obj: StoredObject, entry: ManifestEntry, settings: Settings) -> None:
    """Delete the copy a rejection by the version rules left under `deployable/`: nothing of a rejected
    upload may stay deployable. Its name is this upload's own (name, generation), so no other entry can
    point at it."""
    if not entry.sha256:
        return  # never fully read, so never published
    try:
        bucket.blob(_deployable_name(obj, entry.sha256, settings)).delete()
    except NotFound:
        pass  # never published (rejected by the checks), or deleted by an earlier delivery
    except RETRYABLE as exc:
        raise TransientError(f"withdrawing the deployable copy of {obj.name} failed: {exc}") from exc


def _announce_rejection(
    entry: ManifestEntry,
    obj: StoredObject,
    bucket: Any,
    manifest: ManifestStore,
    notifier: Notifier,
    target: str,
    settings: Settings,
) -> None:
    """Withdraw, quarantine, tell Slack, then mark the entry announced: each step is safe to repeat."""
    _withdraw_deployable(bucket, obj, entry, settings)
    _quarantine(bucket, obj, target)
    notifier.send(_rejection_message(entry))

    def mark(current: Manifest) -> Manifest | None:
        found = current.find_upload(obj.name, obj.generation)
        if found is None or found.announced:
            return None
        return current.with_entry(found.model_copy(update={"announced": True}))

    manifest.update(mark)
    _remove_original(bucket, obj)


def handle_package_upload(
    obj: StoredObject,
    *,
    settings: Settings,
    bucket: Any,
    manifest: ManifestStore,
    notifier: Notifier,
    limits: PackageLimits | None = None,
) -> PromotionOutcome:
    if not is_package_object(obj, settings):
        return PromotionOutcome("ignored", f"{obj.bucket}/{obj.name} is not a trainer package")
    target = _quarantine_target(obj, settings)
    quarantine_uri = f"gs://{obj.bucket}/{target}"

    current, _ = manifest.read()
    known = current.find_upload(obj.name, obj.generation)
    if known is not None:
        return _finish_duplicate(known, obj, bucket, manifest, notifier, target, settings)
    if current.newer_upload_of(obj.name, obj.generation):
        return PromotionOutcome("superseded", "a newer generation of this object is recorded; ignoring the stale event")

    started = time.monotonic()
    inspection = _examine_exact_generation(bucket, obj, settings, limits or limits_for(settings))
    if inspection is None:
        return PromotionOutcome("superseded", "a newer generation replaced this upload; ignoring the stale event")
    info = inspection.info
    rejected = info is None
    entry = ManifestEntry(
        version=info.version if info else "",
        package_name=info.name if info else "",
        entry_module=info.entry_module if info else "",
        status=VersionStatus.REJECTED if rejected else VersionStatus.VALIDATED,
        object_name=obj.name,
        generation=obj.generation,
        uri=f"gs://{obj.bucket}/{obj.name}",
        sha256=inspection.sha256 or "",
        size=inspection.compressed_bytes if inspection.sha256 else obj.size,
        uploader=next((obj.metadata[k] for k in UPLOADER_KEYS if obj.metadata.get(k)), None),
        validation_seconds=round(time.monotonic() - started, 4),
        reasons=[Reason(code=c, message=m) for c, m in inspection.reasons],
        quarantine_uri=quarantine_uri if rejected else None,
    )
    if not rejected:
        entry = entry.model_copy(update={"uri": _publish_deployable(bucket, obj, entry, settings)})
    recorded = _record(manifest, entry, obj, quarantine_uri)
    if recorded is None:
        return PromotionOutcome("duplicate", "another delivery of this upload recorded it first")

    if recorded.status is VersionStatus.REJECTED:
        _announce_rejection(recorded, obj, bucket, manifest, notifier, target, settings)
        codes = [r.code for r in recorded.reasons]
        logs.warning("package rejected", object=obj.name, reasons=codes, sha256=recorded.sha256)
        return PromotionOutcome("rejected", "; ".join(codes), recorded)

    logs.notice(
        "package validated and promoted",
        object=obj.name,
        version=recorded.version,
        sha256=recorded.sha256,
        validation_seconds=recorded.validation_seconds,
        entry_module=recorded.entry_module,
        pins=default_pins().source,  # "none" would mean the bundle lacks image/requirements.lock
    )
    return PromotionOutcome("validated", f"version {recorded.version} is deployable", recorded)


def _deployable_name(obj: StoredObject, sha256: str, settings: Settings) -> str:
    """One name per upload (object name and generation) and content: a copy is only ever written once
    (`if_generation_match=0`), and withdrawing a rejected upload's copy never touches another's."""
    stem = obj.name.rsplit("/", 1)[-1].removesuffix(".tar.gz")
    return f"{settings.flexrun_deployable_prefix}{stem}-g{obj.generation}-{sha256[:16]}.tar.gz"


def _publish_deployable(bucket: Any, obj: StoredObject, entry: ManifestEntry, settings: Settings) -> str:
    """Copy exactly the validated generation to a name of its own, which jobs then run.

    The upload's own name can be overwritten or deleted later (a re-upload, a quarantine): what runs
    must stay the bytes that were validated.
    """
    target = _deployable_name(obj, entry.sha256, settings)
    try:
        bucket.copy_blob(bucket.blob(obj.name), bucket, target, if_generation_match=0, source_generation=obj.generation)
    except PreconditionFailed:
        pass  # published by an earlier delivery of this upload
    except RETRYABLE as exc:
        raise TransientError(f"publishing {obj.name} failed: {exc}") from exc
    return f"gs://{obj.bucket}/{target}"


def _finish_duplicate(
    known: ManifestEntry,
    obj: StoredObject,
    bucket: Any,
    manifest: ManifestStore,
    notifier: Notifier,
    target: str,
    settings: Settings,
) -> PromotionOutcome:
    if known.status is VersionStatus.REJECTED:
        if not known.announced:
            if utc_now() - known.recorded_at < ANNOUNCE_GRACE:
                # The delivery that recorded it is probably still announcing it: retry later rather
                # than send the Slack message twice.
                raise TransientError("this rejection is still being announced by another delivery")
            _announce_rejection(known, obj, bucket, manifest, notifier, target, settings)
        else:
            # finish what a crashed delivery may have left half done
            _withdraw_deployable(bucket, obj, known, settings)
            _remove_original(bucket, obj)
    return PromotionOutcome("duplicate", "this upload is already in the manifest", known)
