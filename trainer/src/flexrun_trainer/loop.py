"""The training loop used across several workers, where Keras 3's `fit` cannot be used.

Keras 3's `Model.fit` fails under `tf.distribute.MultiWorkerMirroredStrategy` ("Attempt to convert a
value (PerReplica ...) to a Tensor", keras-team/keras#20585, tensorflow/tensorflow#72388, still so in
Keras 3.15), while MirroredStrategy on one machine works. So with several workers the steps are written
out with `strategy.run`, doing what `fit` does for this model: the mean squared error over the global
batch (each replica sums its slice; the sample count is all-reduced, so a short last batch is averaged
over what it holds, as `fit` does), Keras' optimizer (which all-reduces the gradients), loss scaling
under mixed precision, the validation loss after each epoch, early stopping with the best weights
restored. Every worker runs the same loop; the tests check it reproduces a single worker's `fit`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def fit_distributed(
    model: Any,
    strategy: Any,
    train_ds: Any,
    val_ds: Any,
    *,
    epochs: int,
    patience: int,
    on_epoch: Callable[[int, float, float, float], None],
) -> list[float]:
    """Train `model` (built and compiled in `strategy.scope()`); returns the validation loss per epoch."""
    import tensorflow as tf

    optimizer = model.optimizer
    sum_ = tf.distribute.ReduceOp.SUM
    with strategy.scope():
        optimizer.build(model.trainable_variables)

    def _sums(x: Any, y: Any, training: bool) -> tuple[Any, Any]:
        pred = tf.cast(model(x, training=training), tf.float32)
        return tf.reduce_sum(tf.square(tf.cast(y, tf.float32) - pred)), tf.cast(tf.shape(y)[0], tf.float32)

    def train_replica(x: Any, y: Any) -> Any:
        count = tf.distribute.get_replica_context().all_reduce(sum_, tf.cast(tf.shape(y)[0], tf.float32))
        with tf.GradientTape() as tape:
            total, _ = _sums(x, y, training=True)
            loss = total / count
            scaled = optimizer.scale_loss(loss) if hasattr(optimizer, "scale_loss") else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return total

    def val_replica(x: Any, y: Any) -> tuple[Any, Any]:
        return _sums(x, y, training=False)

    # One tf.function per epoch, iterating the distributed dataset inside it: a Python loop of
    # per-step calls costs a round of host-side synchronisation per batch.
    @tf.function
    def train_epoch(batches: Any) -> Any:
        total = tf.constant(0.0)
        for batch in batches:
            total += strategy.reduce(sum_, strategy.run(train_replica, args=batch), axis=None)
        return total

    @tf.function
    def val_epoch(batches: Any) -> tuple[Any, Any]:
        total, count = tf.constant(0.0), tf.constant(0.0)
        for batch in batches:
            s, c = strategy.run(val_replica, args=batch)
            total += strategy.reduce(sum_, s, axis=None)
            count += strategy.reduce(sum_, c, axis=None)
        return total, count

    dist_train = strategy.experimental_distribute_dataset(train_ds)
    dist_val = strategy.experimental_distribute_dataset(val_ds)
    n_train = float(sum(int(b[1].shape[0]) for b in train_ds))
    val_losses: list[float] = []
    best, best_weights, waited = np.inf, model.get_weights(), 0
    for epoch in range(epochs):
        started = time.perf_counter()
        train_total = float(train_epoch(dist_train))
        val_total, val_count = val_epoch(dist_val)
        val_loss = float(val_total) / float(val_count)
        val_losses.append(val_loss)
        on_epoch(epoch, train_total / n_train, val_loss, time.perf_counter() - started)
        if val_loss < best:  # EarlyStopping(monitor="val_loss", restore_best_weights=True), min_delta 0
            best, best_weights, waited = val_loss, model.get_weights(), 0
        else:
            waited += 1
            if waited >= patience:
                break
    model.set_weights(best_weights)
    return val_losses
