"""Which image a run's job uses, and the catalog's availability dates behind it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from google.cloud import aiplatform_v1

from shared.config.settings import Settings
from shared.jobs import images
from shared.jobs.custom_job import build_custom_job
from shared.runs import fallback
from shared.runs.plan import job_image, make_plan
from shared.runs.record import RunSpec

PREBUILT = "us-docker.pkg.dev/vertex-ai/training/tf-gpu.2-17.py310:latest"
RUN = RunSpec(
    run_key="nightly-1",
    package_uri="gs://pkgs/deployable/" + "cd" * 32 + ".tar.gz",
    package_version="0.3.0",
    package_sha256="cd" * 32,
    timeout_seconds=3600,
    correlation_id="m-1",
    args=["--epochs", "1"],
)
STEP = fallback.Resolved(
    gpu_type="NVIDIA_L4", gpu_count=1, machine_type="g2-standard-4", region="us-central1",
    strategy="FLEX_START", max_wait=1800,
)  # fmt: skip


def settings(**values: object) -> Settings:
    return Settings(gcp_project_id="acme-ml", gcp_region="europe-west4", **values)


def test_a_default_run_sends_a_container_spec_with_our_artifact_registry_image_and_the_launcher_args():
    job = build_custom_job(make_plan(RUN, STEP, 1, settings()))
    sent = aiplatform_v1.CustomJob.from_json(json.dumps(job))  # the JSON body, read as the API's type
    pool = sent.job_spec.worker_pool_specs[0]
    assert "python_package_spec" not in pool
    tag = images.trainer_image_tag()
    assert pool.container_spec.image_uri == f"europe-west4-docker.pkg.dev/acme-ml/flexrun/trainer:{tag}"
    assert list(pool.container_spec.args) == [
        f"--package-uri={RUN.package_uri}",
        f"--package-sha256={RUN.package_sha256}",
        "--module=flexrun_trainer.task",
        "--",
        "--epochs",
        "1",
    ]


def test_a_prebuilt_image_past_its_end_of_availability_is_refused_naming_the_date():
    with pytest.raises(images.ImageUnavailable, match="end of availability on 2026-07-11") as refused:
        job_image(settings(vertex_ai_executor_image=PREBUILT), today=dt.date(2026, 7, 12))
    assert refused.value.reason_code == "image_unavailable"


def test_a_prebuilt_image_still_available_runs_with_python_package_spec():
    image = job_image(settings(vertex_ai_executor_image=PREBUILT), today=dt.date(2026, 7, 11))
    assert image.kind is images.ImageKind.PREBUILT


def test_a_prebuilt_image_the_catalog_does_not_list_is_refused():
    with pytest.raises(images.ImageUnavailable, match="not in the catalog"):
        job_image(settings(vertex_ai_executor_image="us-docker.pkg.dev/vertex-ai/training/tf-gpu.2-99.py399:latest"))


def test_any_other_image_is_taken_as_one_built_from_our_dockerfile():
    image = job_image(settings(vertex_ai_executor_image="europe-docker.pkg.dev/acme/ml/trainer:mine"))
    assert image.kind is images.ImageKind.CONTAINER and image.end_of_availability is None


def test_an_image_ending_within_60_days_is_reported_with_the_date_that_comes_first():
    prebuilt = images.image_for(PREBUILT)
    assert prebuilt.ends_within(dt.date(2026, 5, 20)) == ("end of availability", dt.date(2026, 7, 11))
    assert prebuilt.ends_within(dt.date(2026, 5, 1)) == ("end of patch", dt.date(2025, 7, 11))  # already passed
    ours = images.default_image("p", "us-central1", "flexrun")
    assert ours.end_of_patch is not None
    assert ours.ends_within(ours.end_of_patch - dt.timedelta(days=60)) == ("end of patch", ours.end_of_patch)
    assert ours.ends_within(ours.end_of_patch - dt.timedelta(days=61)) is None


def test_every_catalog_image_has_a_kind_and_iso_dates():
    from shared.jobs.catalog import load_catalog

    for name, entry in load_catalog()["images"].items():
        assert images.ImageKind(entry["kind"]), name
        for key in ("end_of_patch", "end_of_availability"):
            assert entry[key] is None or dt.date.fromisoformat(entry[key]), name
