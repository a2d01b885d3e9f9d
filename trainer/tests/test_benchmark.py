"""The GPU benchmark runs anywhere: without a GPU it measures the CPU row and says the GPU rows were skipped."""

from __future__ import annotations

import pytest
from flexrun_trainer.benchmark import run

pytestmark = pytest.mark.slow


def test_without_a_gpu_the_gpu_rows_are_skipped_and_the_cpu_row_is_measured() -> None:
    result = run(batch=64, epochs=1)
    if result["gpus"]:
        pytest.skip("this machine has a GPU: the skip path does not apply")
    assert result["gpu_skipped"] == "no GPU visible to TensorFlow"
    [row] = result["rows"]
    assert row["device"] == "/cpu:0" and row["policy"] == "float32" and row["global_batch"] == 64
    assert row["steps_per_second"] > 0 and row["samples_per_second"] > 0
