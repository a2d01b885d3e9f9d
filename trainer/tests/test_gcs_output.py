"""gs:// input and output through google-cloud-storage against fake-gcs-server (STORAGE_EMULATOR_HOST)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_ARGS
from flexrun_trainer import gcs
from flexrun_trainer.config import parse_config
from flexrun_trainer.pipeline import OUTPUT_FILES, run
from flexrun_trainer.schema import validate_metrics
from flexrun_trainer.task import main

BUCKET = "flexrun-trainer-test"


@pytest.fixture
def bucket(fake_gcs: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs)
    monkeypatch.delenv("AIP_MODEL_DIR", raising=False)
    gcs.client.cache_clear()  # the cached client was built for another (or no) emulator
    client = gcs.client()
    b = client.bucket(BUCKET)
    if not b.exists():
        b = client.create_bucket(BUCKET)
    yield b
    gcs.client.cache_clear()


@pytest.mark.slow
def test_gs_output_dir_gets_every_file_with_success_last(bucket: Any, small_csv: Path) -> None:
    bucket.blob("input/prices.csv").upload_from_filename(str(small_csv))
    bucket.blob("runs/r1/_SUCCESS").upload_from_string("{}")  # stale marker from an earlier run
    cfg = parse_config(
        [
            "--output-dir",
            f"gs://{BUCKET}/runs/r1/",
            "--data",
            f"gs://{BUCKET}/input/prices.csv",
            *FAST_ARGS,
            "--epochs",
            "1",
        ],
        env={},
    )
    metrics = run(cfg, env={})
    blobs = {b.name.rsplit("/", 1)[-1]: b for b in bucket.list_blobs(prefix="runs/r1/")}
    assert set(blobs) == {*OUTPUT_FILES, "_SUCCESS"}
    assert all(blobs["_SUCCESS"].generation >= blobs[n].generation for n in OUTPUT_FILES)
    manifest = json.loads(blobs["_SUCCESS"].download_as_bytes())
    assert set(manifest["files"]) == set(OUTPUT_FILES)
    stored = json.loads(blobs["metrics.json"].download_as_bytes())
    assert validate_metrics(stored) == [] and stored["run"]["data_source"] == f"gs://{BUCKET}/input/prices.csv"
    assert stored["evaluation"] == metrics["evaluation"]
    assert blobs["metrics.json"].content_type == "application/json"


def test_missing_gs_input_exits_3_and_clears_stale_success(bucket: Any) -> None:
    bucket.blob("runs/r2/_SUCCESS").upload_from_string("{}")
    code = main(["--output-dir", f"gs://{BUCKET}/runs/r2", "--data", f"gs://{BUCKET}/no/such.csv"])
    assert code == 3
    assert not bucket.blob("runs/r2/_SUCCESS").exists()


def test_output_dir_in_a_missing_bucket_exits_2(bucket: Any) -> None:
    assert main(["--output-dir", "gs://no-such-bucket-here/x", *FAST_ARGS]) == 2
