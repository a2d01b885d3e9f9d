"""Run records for tests: what the submit function would have claimed, with any field overridden."""

from __future__ import annotations

from typing import Any

from shared.runs.record import RunRecord

CLAIMED: dict[str, Any] = {
    "run_key": "test-run",
    "attempt": 1,
    "correlation_id": "corr-test",
    "package_uri": "gs://packages/packages/flexrun_trainer-0.1.0.tar.gz",
    "package_version": "0.1.0",
    "package_sha256": "a" * 64,
    "timeout_seconds": 3600,
    "gpu_type": "NVIDIA_L4",
    "gpu_count": 1,
    "machine_type": "g2-standard-4",
    "region": "us-central1",
    "strategy": "FLEX_START",
    "max_wait_seconds": 1800,
    "output_uri": "gs://staging/runs/test-run/attempt-1/",
    "executor_image": "us-docker.pkg.dev/vertex-ai/training/tf-gpu.2-17.py310:latest",
    "step_label": "1x NVIDIA_L4 on g2-standard-4 @ us-central1 FLEX_START max wait 1800s",
}


def a_record(**fields: Any) -> RunRecord:
    """A valid claimed record with `fields` over the defaults (validated as a store's read is)."""
    return RunRecord.model_validate({**CLAIMED, **fields})
