"""Training throughput of the trainer's model: `python -m flexrun_trainer.benchmark` prints one JSON object.

Rows (steps/s and samples/s of `fit` on synthetic data of the real shape, after a warm-up epoch):
- `cpu` or `gpu:0`, float32, at the trainer's default batch: what a default run gets per replica, and
  (`batch_rows`) at half and four times that batch;
- with GPUs: mixed_float16 vs float32 on one GPU, and one GPU vs all GPUs (MirroredStrategy, the
  global batch scaled with them), so the mixed-precision and all-GPU choices can be checked the moment
  a GPU machine exists (locally, or as a Vertex job running this module).
Without a GPU the GPU rows are skipped and `gpu_skipped` says why. It lives in the package so the same
code runs on a GPU VM or in a CustomJob; bench/gpu.py runs it here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from flexrun_trainer.config import DEFAULT_WINDOW

DEFAULT_BATCH = 64
SAMPLES = 8192  # about twice the shipped sample's training set: long enough to time, short to run


def _measure(strategy: Any, policy: str, batch: int, epochs: int, jit: Any = False) -> dict[str, Any]:
    import tensorflow as tf

    keras = tf.keras
    keras.mixed_precision.set_global_policy(policy)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, DEFAULT_WINDOW, 4)).astype(np.float32)
    y = rng.normal(size=(SAMPLES, 1)).astype(np.float32)
    global_batch = batch * int(strategy.num_replicas_in_sync)
    with strategy.scope():
        inputs = keras.Input(shape=(DEFAULT_WINDOW, 4))
        h = keras.layers.GRU(32)(inputs)
        h = keras.layers.Dense(16, activation="relu")(h)
        model = keras.Model(inputs, keras.layers.Dense(1, dtype="float32")(h))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch).prefetch(tf.data.AUTOTUNE)
    model.fit(ds, epochs=1, verbose=0)  # warm-up: tracing, cuDNN autotuning, XLA compilation
    started = time.perf_counter()
    model.fit(ds, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - started
    steps = epochs * int(np.ceil(SAMPLES / global_batch))
    keras.mixed_precision.set_global_policy("float32")
    return {
        "policy": policy,
        "replicas": int(strategy.num_replicas_in_sync),
        "batch_per_replica": batch,
        "global_batch": global_batch,
        "xla": jit,
        "steps_per_second": round(steps / seconds, 2),
        "samples_per_second": round(epochs * SAMPLES / seconds, 1),
    }


def run(batch: int = DEFAULT_BATCH, epochs: int = 2) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    result: dict[str, Any] = {"tensorflow_version": tf.__version__, "gpus": len(gpus), "rows": []}
    first = "/gpu:0" if gpus else "/cpu:0"
    one = tf.distribute.OneDeviceStrategy(first)
    # The first fit of a process also pays TensorFlow's one-time start (thread pools, oneDNN kernels)
    # beyond its own warm-up epoch: measured here, the default batch's row read 4,200 to 12,000
    # samples/s on the same idle machine. A throwaway measurement takes that cost off the first row.
    _measure(one, "float32", batch, 1)
    result["rows"].append({"device": first, **_measure(one, "float32", batch, epochs)})
    # The batch choice: the same device at half and four times the batch (throughput only: a bigger
    # batch also means fewer optimizer steps per epoch, which the trainer's early stopping absorbs).
    result["batch_rows"] = [{"device": first, **_measure(one, "float32", b, epochs)} for b in (batch // 2, batch * 4)]
    if not gpus:
        result["gpu_skipped"] = "no GPU visible to TensorFlow"
        return result
    result["rows"].append({"device": first, **_measure(one, "mixed_float16", batch, epochs)})
    result["rows"].append({"device": first, **_measure(one, "mixed_float16", batch, epochs, jit="auto")})
    if len(gpus) > 1:
        mirrored = tf.distribute.MirroredStrategy()
        result["rows"].append({"device": f"all {len(gpus)} GPUs", **_measure(mirrored, "mixed_float16", batch, epochs)})
    else:
        result["all_gpus_skipped"] = "one GPU: nothing to mirror"
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flexrun_trainer.benchmark", description=__doc__)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="per replica")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up epoch")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.batch_size, args.epochs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
