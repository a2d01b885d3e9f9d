"""The reconciler tick's quota step: read Vertex AI's GPU quotas from Cloud Quotas, store the snapshot.

Its own small core, called by the reconcile entry point beside `reconcile_open_runs`; a failure here
is logged and leaves the previous snapshot in place (submit-run then plans with an older or no
snapshot, which never blocks a run: see shared/quotas/gate.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.config import logs
from shared.config.settings import Settings
from shared.quotas import metrics
from shared.quotas.snapshot import QuotaSnapshot, snapshot_from_quota_infos, write_snapshot


def read_gpu_quotas(quotas: Any, project: str, now: datetime | None = None) -> QuotaSnapshot:
    """Every Vertex AI GPU quota of the project; `quotas` is a cloudquotas_v1.CloudQuotasClient."""
    parent = f"projects/{project}/locations/global/services/{metrics.SERVICE}"  # QuotaInfos live in "global"
    infos = quotas.list_quota_infos(request={"parent": parent, "page_size": 500})  # the pager follows pages
    return snapshot_from_quota_infos(project, infos, metrics.gpu_quota_metrics(), now)


def refresh_quota_snapshot(
    *, settings: Settings, quotas: Any, bucket: Any, now: datetime | None = None
) -> QuotaSnapshot | None:
    """Read and store the snapshot; None (and a warning) when Cloud Quotas could not be read."""
    try:
        snapshot = read_gpu_quotas(quotas, settings.gcp_project_id, now)
        write_snapshot(bucket, settings.flexrun_quota_snapshot_object, snapshot)
    except Exception as exc:  # noqa: BLE001 — the reconcile tick must go on; the next tick tries again
        logs.warning("quota snapshot not refreshed", error=f"{exc.__class__.__name__}: {exc}"[:300])
        return None
    logs.notice("quota snapshot refreshed", metrics=len(snapshot.metrics))
    return snapshot
