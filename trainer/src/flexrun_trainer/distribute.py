"""Which replicas and devices train the model: TF_CONFIG → the tf.distribute strategy, chief or not.

Vertex sets TF_CONFIG in each replica when a job has several (google-facts.md: "with several replicas
it sets CLUSTER_SPEC and (for TensorFlow) TF_CONFIG"): `cluster` lists `chief` (worker pool 0) and
`worker` (pool 1) addresses, `task` says which one this process is. A single-replica job also gets a
TF_CONFIG, with the chief alone, which means "no cluster".
- several replicas → MultiWorkerMirroredStrategy (synchronous all-reduce; NCCL between GPUs, ring
  over gRPC on CPU), each replica using all of its GPUs;
- one replica, several GPUs → MirroredStrategy;
- otherwise → the default strategy (one device).
Only the chief writes outputs (the others' copies would race on the same objects); everyone trains.
The parsing is pure Python so that `task` can decide who writes before TensorFlow is imported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flexrun_trainer.errors import ConfigError

_TRAINING_ROLES = ("chief", "worker")  # "ps" and "evaluator" are not used by a synchronous strategy


@dataclass(frozen=True)
class Cluster:
    replicas: int  # training processes in the job
    task_type: str
    task_index: int

    @property
    def is_chief(self) -> bool:
        """The chief, or worker 0 when the cluster has no chief (TensorFlow's own rule)."""
        return self.task_type == "chief" or (self.task_type == "worker" and self.task_index == 0 and not self._chief)

    _chief: bool = True

    @property
    def multi_worker(self) -> bool:
        return self.replicas > 1

    def as_dict(self) -> dict[str, Any]:
        return {"replicas": self.replicas, "task_type": self.task_type, "task_index": self.task_index}


def cluster_from_env(env: Mapping[str, str]) -> Cluster:
    raw = env.get("TF_CONFIG", "").strip()
    if not raw:
        return Cluster(1, "chief", 0)
    try:
        config = json.loads(raw)
        cluster = config.get("cluster") or {}
        task = config.get("task") or {}
        members = {role: list(cluster.get(role) or []) for role in _TRAINING_ROLES}
        task_type, task_index = str(task.get("type", "chief")), int(task.get("index", 0))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON with cluster and task: {exc}") from exc
    replicas = sum(len(v) for v in members.values()) or 1
    if replicas > 1 and task_type not in _TRAINING_ROLES:
        raise ConfigError(f"TF_CONFIG task type {task_type!r} is not one this trainer runs (chief, worker)")
    return Cluster(replicas, task_type, task_index, _chief=bool(members["chief"]) or replicas == 1)


def make_strategy(cluster: Cluster, gpu_count: int) -> Any:
    """Create the strategy; call right after TensorFlow is configured, before any model or op exists."""
    import tensorflow as tf

    if cluster.multi_worker:
        # AUTO: NCCL between GPUs, ring all-reduce over gRPC on CPU.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if gpu_count > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


_NAMES = {"CollectiveAllReduceStrategy": "MultiWorkerMirroredStrategy", "_DefaultDistributionStrategy": "default"}


def strategy_name(strategy: Any) -> str:
    """The public name (MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy)."""
    name = type(strategy).__name__
    return _NAMES.get(name, name)
