"""bench/gpu.py turns the trainer benchmark's JSON into rows: GPU rows only where a GPU was measured."""

from __future__ import annotations

from bench.gpu import rows

CPU = {"device": "/cpu:0", "policy": "float32", "xla": False, "global_batch": 64, "steps_per_second": 50.0,
       "samples_per_second": 3200.0}  # fmt: skip


def test_without_a_gpu_only_the_throughput_row_is_printed_and_it_says_why():
    half, quadruple = {**CPU, "global_batch": 32, "samples_per_second": 2000.0}, {**CPU, "global_batch": 256}
    result = {"gpus": 0, "rows": [CPU], "batch_rows": [half, quadruple], "gpu_skipped": "no GPU visible to TensorFlow"}
    [row] = rows(result)
    assert "batch 64 vs 32" in row.name and row.value == 3200.0 and row.baseline == 2000.0
    assert "GPU rows skipped" in row.note


def test_with_gpus_mixed_precision_xla_and_all_gpus_are_compared():
    gpu = {**CPU, "device": "/gpu:0"}
    result = {"gpus": 2, "rows": [gpu, {**gpu, "policy": "mixed_float16", "steps_per_second": 80.0},
              {**gpu, "policy": "mixed_float16", "xla": "auto", "steps_per_second": 90.0},
              {**gpu, "device": "all 2 GPUs", "policy": "mixed_float16", "samples_per_second": 6000.0}]}  # fmt: skip
    names = [r.name for r in rows(result)]
    assert any("mixed_float16 vs float32" in n for n in names) and any("all 2 GPUs" in n for n in names)
    mixed = next(r for r in rows(result) if "mixed_float16 vs float32" in r.name)
    assert mixed.ratio == 80.0 / 50.0 and mixed.met is True
