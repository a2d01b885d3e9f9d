"""The stored quota snapshot: read back as written, and a broken one or a failed refresh never blocks a run."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

from google.api_core import exceptions as gexc

from shared.cloud.http import NotFound
from shared.config.settings import Settings
from shared.quotas.refresh import refresh_quota_snapshot
from shared.quotas.snapshot import read_snapshot, snapshot_from_quota_infos

L4_DWS = "aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_l4_gpus"
NOW = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)


class Bucket:
    def __init__(self) -> None:
        self.objects: dict[str, str] = {}

    def blob(self, name: str) -> SimpleNamespace:
        def download_as_text() -> str:
            if name not in self.objects:
                raise NotFound("no such object")  # shared/cloud/gcs.py's error, as the real bucket raises
            return self.objects[name]

        def upload_from_string(text: str, content_type: str) -> None:
            self.objects[name] = text

        return SimpleNamespace(download_as_text=download_as_text, upload_from_string=upload_from_string)


def _info(metric: str, **regions: int) -> SimpleNamespace:
    infos = [
        SimpleNamespace(
            dimensions={"region": r.replace("_", "-")} if r != "default" else {}, details=SimpleNamespace(value=v)
        )
        for r, v in regions.items()
    ]
    return SimpleNamespace(quota_id=metric.rsplit("/", 1)[1], metric=metric, dimensions_infos=infos)


class Quotas:
    def __init__(self, infos: list[SimpleNamespace] | None = None, error: Exception | None = None) -> None:
        self.infos, self.error = infos or [], error

    def list_quota_infos(self, request: dict) -> list[SimpleNamespace]:
        assert request["parent"] == "projects/p/locations/global/services/aiplatform.googleapis.com"
        if self.error:
            raise self.error
        return self.infos


def test_the_refreshed_snapshot_keeps_only_gpu_metrics_and_reads_back_with_its_time():
    bucket, settings = Bucket(), Settings(gcp_project_id="p")
    infos = [
        _info(L4_DWS, us_east4=0, default=4),
        _info("aiplatform.googleapis.com/custom_model_training_cpus", default=24),
    ]
    refresh_quota_snapshot(settings=settings, quotas=Quotas(infos), bucket=bucket, now=NOW)
    snapshot = read_snapshot(bucket, settings.flexrun_quota_snapshot_object)
    assert snapshot is not None and snapshot.taken_at == NOW and list(snapshot.metrics) == [L4_DWS]
    assert (snapshot.limit(L4_DWS, "us-east4"), snapshot.limit(L4_DWS, "europe-west4")) == (0, 4)


def test_a_failed_refresh_keeps_the_previous_snapshot_and_raises_nothing():
    bucket, settings = Bucket(), Settings(gcp_project_id="p")
    bucket.objects[settings.flexrun_quota_snapshot_object] = snapshot_from_quota_infos(
        "p", [_info(L4_DWS, default=2)], [L4_DWS], NOW
    ).model_dump_json()
    assert (
        refresh_quota_snapshot(settings=settings, quotas=Quotas(error=gexc.Forbidden("denied")), bucket=bucket) is None
    )
    assert read_snapshot(bucket, settings.flexrun_quota_snapshot_object).limit(L4_DWS, "us-east4") == 2


def test_a_missing_or_malformed_snapshot_reads_as_none():
    bucket = Bucket()
    assert read_snapshot(bucket, "quota-snapshot.json") is None
    bucket.objects["quota-snapshot.json"] = '{"project": "p"}'
    assert read_snapshot(bucket, "quota-snapshot.json") is None
