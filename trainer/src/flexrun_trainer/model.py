"""The TensorFlow part: device setup, the GRU, the tf.data pipeline, training and prediction.

This is the only module that imports TensorFlow, and only inside functions, so `task` can parse
arguments and validate data before paying TensorFlow's import time (seconds on a small CPU).

Why a GRU: windows are short (20 days) with 4 features, so a single small recurrent layer suffices.
A GRU has three gates to an LSTM's four (fewer parameters to fit on a few thousand samples, quicker on
CPU) and on a GPU Keras runs it with the fused cuDNN kernel. A temporal CNN would need dilations tuned
to the window length to see the whole window and gains nothing at this size.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from flexrun_trainer.distribute import Cluster, make_strategy, strategy_name
from flexrun_trainer.logs import get_logger


@dataclass(frozen=True)
class Device:
    type: str  # "GPU" or "CPU"
    name: str
    gpu_count: int
    mixed_precision: bool
    deterministic: bool
    tensorflow_version: str
    keras_version: str
    strategy: str = "default"  # the tf.distribute strategy's class name
    replicas_in_sync: int = 1  # devices across all workers that each take a slice of every batch
    workers: int = 1  # processes in the cluster (Vertex replicas)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def configure(seed: int, cluster: Cluster) -> tuple[Device, Any]:
    """Seed everything, pick the devices, the strategy and the numeric policy; before any model exists."""
    import tensorflow as tf

    keras = tf.keras
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # Grow on demand: the model is tiny and the GPU may be shared with other processes.
        tf.config.experimental.set_memory_growth(gpu, True)
    # The strategy comes before any op: MultiWorkerMirroredStrategy must start the cluster first.
    strategy = make_strategy(cluster, len(gpus))
    keras.utils.set_random_seed(seed)  # python, numpy and TensorFlow generators; the same on every worker
    mixed = False
    name = platform.processor() or platform.machine() or "cpu"
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = str(details.get("device_name", gpus[0].name))
        # float16 pays off only on GPUs with tensor cores (compute capability 7.0+: V100, T4, A100, L4, H100).
        mixed = tuple(details.get("compute_capability", (0, 0))) >= (7, 0)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    if not gpus:
        # The promise is "same seed, same metrics" on CPU; on GPU cuDNN's fastest kernels are not
        # deterministic and we keep their speed.
        tf.config.experimental.enable_op_determinism()
    version = getattr(keras, "__version__", None) or getattr(keras, "version", lambda: "?")()
    device = Device(
        type="GPU" if gpus else "CPU",
        name=name,
        gpu_count=len(gpus),
        mixed_precision=mixed,
        deterministic=not gpus,
        tensorflow_version=tf.__version__,
        keras_version=str(version),
        strategy=strategy_name(strategy),
        replicas_in_sync=int(strategy.num_replicas_in_sync),
        workers=cluster.replicas,
    )
    return device, strategy


def build(
    window: int, n_features: int, units: int, learning_rate: float, device: Device, strategy: Any, name: str = ""
) -> Any:
    with strategy.scope():  # variables mirrored on every replica
        return _build(window, n_features, units, learning_rate, device, name or "flexrun_gru")


def reseed(seed: int) -> None:
    """Python, NumPy and TensorFlow generators: before each ensemble member after the first."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)


def _build(window: int, n_features: int, units: int, learning_rate: float, device: Device, name: str) -> Any:
    import tensorflow as tf

    keras = tf.keras
    inputs = keras.Input(shape=(window, n_features), name="features")
    x = keras.layers.GRU(units, name="gru")(inputs)
    x = keras.layers.Dense(16, activation="relu", name="hidden")(x)
    # The output stays float32 under mixed precision: a float16 loss would lose the small returns.
    outputs = keras.layers.Dense(1, dtype="float32", name="next_return")(x)
    model = keras.Model(inputs, outputs, name=name)
    # XLA: off on CPU (compile time outweighs a model this small, and Keras refuses XLA under op
    # determinism). On GPU, "auto" lets Keras 3 decide per layer — it keeps the cuDNN GRU kernel,
    # which is faster than an XLA-compiled loop. Keras 2 (TF <= 2.15) has no "auto": leave it off.
    jit: Any = False
    if device.type == "GPU" and not device.keras_version.startswith("2."):
        jit = "auto"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse", jit_compile=jit)
    return model


def dataset(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle_seed: int | None) -> Any:
    """In-memory tf.data pipeline: seeded shuffle (training only), batch, prefetch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y.reshape(-1, 1)))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    # In-memory data has no files to split: every worker builds the same seeded batches and keeps its
    # slice of each (DATA sharding), so the global batch is the one a single worker would see.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(options)


@dataclass(frozen=True)
class Trained:
    model: Any
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    early_stopped: bool
    seconds: float
    samples_per_second: float
    parameters: int
    xla: bool
    global_batch_size: int


def train(
    model: Any,
    train_xy: tuple[np.ndarray, np.ndarray],
    val_xy: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    patience: int,
    seed: int,
    strategy: Any = None,
    workers: int = 1,
) -> Trained:
    """Train with batch_size per replica: the global batch is batch_size x the replicas in sync."""
    import tensorflow as tf

    keras = tf.keras
    log = get_logger()
    replicas = int(strategy.num_replicas_in_sync) if strategy is not None else 1
    global_batch = batch_size * replicas

    def epoch_done(epoch: int, loss: float, val_loss: float, seconds: float) -> None:
        extra = {"event": "epoch", "epoch": epoch + 1, "loss": loss, "val_loss": val_loss, "seconds": round(seconds, 3)}
        log.info("epoch done", extra=extra)

    class EpochLog(keras.callbacks.Callback):  # type: ignore[misc,name-defined]
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            loss, val = float(logs.get("loss", np.nan)), float(logs.get("val_loss", np.nan))
            epoch_done(epoch, loss, val, time.perf_counter() - self.t0)

    train_ds = dataset(*train_xy, global_batch, shuffle_seed=seed)
    val_ds = dataset(*val_xy, global_batch * 4, shuffle_seed=None)
    t0 = time.perf_counter()
    if workers > 1:
        from flexrun_trainer.loop import fit_distributed

        val_losses = fit_distributed(
            model, strategy, train_ds, val_ds, epochs=epochs, patience=patience, on_epoch=epoch_done
        )
    else:
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        history = model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=epochs,
            callbacks=[stop, EpochLog()],
            shuffle=False,  # the tf.data pipeline already shuffles, with its own seed
            verbose=0,
        )
        val_losses = [float(v) for v in history.history["val_loss"]]
    seconds = time.perf_counter() - t0
    epochs_run = len(val_losses)
    best = int(np.argmin(val_losses))
    return Trained(
        model=model,
        epochs_run=epochs_run,
        best_epoch=best + 1,
        best_val_loss=val_losses[best],
        early_stopped=epochs_run < epochs,
        seconds=seconds,
        samples_per_second=len(train_xy[0]) * epochs_run / seconds if seconds > 0 else 0.0,
        parameters=int(model.count_params()),
        xla=bool(getattr(model, "jit_compile", False)),
        global_batch_size=global_batch,
    )


def predict(model: Any, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Plain forward passes on this process's copy of the weights: no collective, so it works the same
    under every strategy (Keras 3's `predict` shares `fit`'s multi-worker failure)."""
    if len(x) == 0:
        return np.zeros(0)
    parts = [np.asarray(model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    return np.concatenate(parts).astype(np.float64).reshape(-1)
