"""A job's replicas: one process each, wired together with CLUSTER_SPEC and TF_CONFIG on loopback.

Vertex starts `replicaCount` replicas per worker pool and, with several, sets `CLUSTER_SPEC` and (for
TensorFlow) `TF_CONFIG` in each (google-facts.md, Containers): worker pool 0 is the `chief`, pool 1
the `worker`s. Here every replica is a process on this machine and each address is a free loopback
port, so TensorFlow's own distributed runtime (gRPC) connects them as it would across VMs. The chief
is the runner's own process (its output is replica.log); the others run beside it with their output in
`replica-workerpoolN-I.log`. The job succeeds only when every replica exits 0 (Vertex documents no
rule for a worker failing after the chief succeeded: the less convenient reading is that it fails).
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TF_ROLES = {0: "chief", 1: "worker", 2: "ps", 3: "evaluator"}  # worker pool index → TF_CONFIG role


@dataclass(frozen=True)
class Slot:
    pool: int
    index: int

    @property
    def task_name(self) -> str:
        return f"workerpool{self.pool}-{self.index}"


def slots(pools: list[dict[str, Any]]) -> list[Slot]:
    """Every replica of every pool, the chief (pool 0, replica 0) first."""
    counts = [int(p.get("replicaCount", 1) or 0) if p else 0 for p in pools] or [1]
    return [Slot(pool, i) for pool, count in enumerate(counts) for i in range(count)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cluster_env(all_slots: list[Slot], job: dict[str, Any]) -> dict[Slot, dict[str, str]]:
    """CLUSTER_SPEC and TF_CONFIG for each replica of a job with several."""
    address = {slot: f"127.0.0.1:{_free_port()}" for slot in all_slots}
    by_pool: dict[str, list[str]] = {}
    by_role: dict[str, list[str]] = {}
    for slot in all_slots:
        by_pool.setdefault(f"workerpool{slot.pool}", []).append(address[slot])
        by_role.setdefault(_TF_ROLES[slot.pool], []).append(address[slot])
    envs = {}
    for slot in all_slots:
        cluster_spec = {
            "cluster": by_pool,
            "environment": "cloud",
            "task": {"type": f"workerpool{slot.pool}", "index": slot.index},
            "job": json.dumps(job),
        }
        tf_config = {
            "cluster": by_role,
            "environment": "cloud",
            "task": {"type": _TF_ROLES[slot.pool], "index": slot.index},
            "job": job,
        }
        envs[slot] = {"CLUSTER_SPEC": json.dumps(cluster_spec), "TF_CONFIG": json.dumps(tf_config)}
    return envs


def pool_command(chief: list[str], pool: dict[str, Any]) -> list[str]:
    """A pool's own python_module and args (its spec may differ from the chief's); a container pool
    runs the chief's command (the same image: flexrun puts one image in every pool)."""
    package = pool.get("pythonPackageSpec")
    if not package:
        return chief
    return [chief[0], "-m", str(package.get("pythonModule", "")), *map(str, package.get("args", []))]


class Others:
    """The replicas other than the chief: started with it, killed with it, waited for after it."""

    def __init__(self) -> None:
        self.processes: dict[Slot, subprocess.Popen[bytes]] = {}

    def start(
        self, command_of: Callable[[int], list[str]], cwd: Path, env: dict[str, str], envs: dict[Slot, dict[str, str]]
    ) -> None:
        """Start every replica but the chief; `command_of(pool)` is that pool's command."""
        for slot, cluster in envs.items():
            if slot == Slot(0, 0):
                continue
            command = command_of(slot.pool)
            log = open(cwd.parent / f"replica-{slot.task_name}.log", "ab")
            self.processes[slot] = subprocess.Popen(
                command,
                cwd=cwd,
                env={**env, **cluster},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()  # the child holds its own descriptor

    def wait(self, timeout: float) -> tuple[Slot, int] | None:
        """The first replica that exited non-zero (name, code), waiting at most `timeout` in all."""
        import time

        deadline = time.monotonic() + timeout
        failed = None
        for slot, process in self.processes.items():
            code = process.wait(timeout=max(0.0, deadline - time.monotonic()))
            if code != 0 and failed is None:
                failed = (slot, code)
        return failed

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values() if p.poll() is None]
