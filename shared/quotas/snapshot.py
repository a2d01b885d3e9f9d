"""The quota snapshot: Vertex AI's GPU quota limits per region, read from Cloud Quotas, stored with its time.

The reconciler's tick refreshes it (shared/quotas/refresh.py); submit-run plans with it
(shared/quotas/gate.py); the doctor reads the same limits live. It is a JSON object beside the manifest
in the package bucket: submit-run already reads that bucket, and the functions' account may write it.

A QuotaInfo's `dimensionsInfos` lists the value per region; an entry without a `region` dimension
"applies to all the dimension values except for those that have another DimensionsInfo"
(google/api/cloudquotas/v1/resources.proto), so it is the default for every region not listed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from shared.cloud.http import NotFound
from shared.config import logs


class MetricLimits(BaseModel):
    quota_id: str = ""
    default: int | None = None  # the value for every region without its own entry; None = none given
    regions: dict[str, int] = {}

    def limit(self, region: str) -> int | None:
        """The enforced limit in `region` (-1 = unlimited), None when Cloud Quotas gave none."""
        return self.regions.get(region, self.default)


class QuotaSnapshot(BaseModel):
    project: str
    taken_at: datetime
    metrics: dict[str, MetricLimits] = {}

    def limit(self, metric: str, region: str) -> int | None:
        limits = self.metrics.get(metric)
        return None if limits is None else limits.limit(region)

    def quota_id(self, metric: str) -> str | None:
        limits = self.metrics.get(metric)
        return limits.quota_id if limits and limits.quota_id else None

    def age_seconds(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(timezone.utc)) - self.taken_at).total_seconds()


def limits_from_quota_info(info: Any) -> MetricLimits:
    """A cloudquotas_v1.QuotaInfo (or anything shaped like it) → its limits per region."""
    limits = MetricLimits(quota_id=info.quota_id)
    for entry in info.dimensions_infos:
        value = int(entry.details.value)
        region = dict(entry.dimensions).get("region")
        if region:
            limits.regions[region] = value
        else:
            limits.default = value
    return limits


def snapshot_from_quota_infos(
    project: str, infos: Iterable[Any], metrics: Iterable[str], now: datetime | None = None
) -> QuotaSnapshot:
    """Keep the QuotaInfos of `metrics` only (Vertex AI has hundreds of quotas; flexrun needs its GPUs)."""
    wanted = set(metrics)
    snapshot = QuotaSnapshot(project=project, taken_at=now or datetime.now(timezone.utc))
    for info in infos:
        if info.metric in wanted:
            snapshot.metrics[info.metric] = limits_from_quota_info(info)
    return snapshot


def read_snapshot(bucket: Any, object_name: str) -> QuotaSnapshot | None:
    """The stored snapshot, or None when there is none or it cannot be read (never blocks a run)."""
    try:
        text = bucket.blob(object_name).download_as_text()
    except NotFound:
        return None
    except Exception as exc:  # noqa: BLE001 — planning without the snapshot is the documented fallback
        logs.warning("quota snapshot unreadable; planning without it", error=exc.__class__.__name__)
        return None
    try:
        return QuotaSnapshot.model_validate(json.loads(text))
    except ValueError as exc:
        logs.warning("quota snapshot malformed; planning without it", error=str(exc)[:200])
        return None


def write_snapshot(bucket: Any, object_name: str, snapshot: QuotaSnapshot) -> None:
    blob = bucket.blob(object_name)
    blob.cache_control = "no-store"  # read back at once by submit-run; a cached copy would be stale
    blob.upload_from_string(snapshot.model_dump_json(indent=1), content_type="application/json")
