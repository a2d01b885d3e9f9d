"""`--ensemble K`: K models from seeds seed, seed+1, …, their forecasts averaged, their spread reported.

Why: one seed's verdict is partly the seed's luck (the issue's measurement: RMSE gain over naive
1.10 % ± 0.87 % over five seeds). Averaging K members removes some of that variance by design; the
members' own gains are reported next to the ensemble's so a reader sees how much they disagree. The
default K is chosen by measurement (trainer/README.md, `python -m bench trainer_seeds`). Member 0 uses
`--seed` exactly as a single model does, so `--ensemble 1` is the plain model, bit for bit on CPU.
The saved model.keras is one Keras model: the members side by side, their outputs averaged.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from flexrun_trainer.metrics import evaluate
from flexrun_trainer.windows import Samples


@dataclass(frozen=True)
class Member:
    seed: int
    net: Any
    trained: Any
    test_return: np.ndarray
    next_return: np.ndarray


def train_members(k: int, seed: int, train_one: Callable[[int, int], Member]) -> list[Member]:
    """train_one(index, member_seed) for each member; the caller reseeds TensorFlow for index > 0."""
    return [train_one(i, seed + i) for i in range(k)]


def average(members: list[Member]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.mean([m.test_return for m in members], axis=0),
        np.mean([m.next_return for m in members], axis=0),
    )


def spread(members: list[Member], test: Samples, train: Samples) -> dict[str, Any]:
    """Each member's own pooled test against naive, and their spread, for metrics.json."""
    tests = [evaluate(test, m.test_return, train)["overall"]["tests"]["naive_last_value"] for m in members]
    gains = [float(t["gain"]) for t in tests]
    return {
        "members": len(members),
        "seeds": [m.seed for m in members],
        "epochs_run": [int(m.trained.epochs_run) for m in members],
        "best_val_loss": [float(m.trained.best_val_loss) for m in members],
        "member_gain_vs_naive": gains,
        "member_gain_vs_naive_mean": statistics.mean(gains),
        "member_gain_vs_naive_sd": statistics.stdev(gains) if len(gains) > 1 else 0.0,
        "member_edges_vs_naive": sum(bool(t["edge"]) for t in tests),
    }


def combined_model(members: list[Member], strategy: Any) -> Any:
    """One Keras model averaging the members (the first member itself when there is one)."""
    if len(members) == 1:
        return members[0].net
    import tensorflow as tf

    keras = tf.keras
    with strategy.scope():
        first = members[0].net
        inputs = keras.Input(shape=first.input_shape[1:], name="features")
        outputs = keras.layers.Average(name="ensemble_mean")([m.net(inputs) for m in members])
        return keras.Model(inputs, outputs, name=f"flexrun_gru_ensemble_{len(members)}")
