"""What a stored CustomJob asks for, read once: accelerator, strategy, limits, package or container, env.

The job is in proto-JSON form (camelCase keys, enum names, durations like "1800s").
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from local.standins.vertex.store import Job, job_id_of

DEFAULT_TIMEOUT_SECONDS = 7 * 24 * 3600  # Scheduling.timeout: "The default is 7 days."
DEFAULT_MAX_WAIT_SECONDS = 24 * 3600  # Scheduling.maxWaitDuration: "The default is 24 hours."


def seconds(duration: str) -> float:
    """Proto-JSON Duration ("1800s", "0.5s") to seconds."""
    if not duration.endswith("s"):
        raise ValueError(f"not a proto-JSON duration: {duration!r}")
    return float(duration[:-1])


class Workload:
    def __init__(self, job: Job) -> None:
        self.job_id = job_id_of(job)
        self.name: str = job["name"]
        spec = job.get("jobSpec", {})
        self.scheduling: dict[str, Any] = spec.get("scheduling", {})
        self.pools: list[dict[str, Any]] = list(spec.get("workerPoolSpecs", [{}]))
        self._pool: dict[str, Any] = self.pools[0]
        self._package: dict[str, Any] = self._pool.get("pythonPackageSpec", {})
        self._container: dict[str, Any] = self._pool.get("containerSpec", {})
        self._output_prefix: str | None = spec.get("baseOutputDirectory", {}).get("outputUriPrefix")

    @property
    def region(self) -> str:
        return self.name.split("/")[3]

    @property
    def container_image(self) -> str | None:
        """ContainerSpec.imageUri when the pool runs a container (then there is no package spec)."""
        return None if self._package else self._container.get("imageUri")

    @property
    def container_command(self) -> list[str]:
        """ContainerSpec.command (overrides the image's entry point) and args."""
        return [str(a) for a in self._container.get("command", [])]

    @property
    def container_args(self) -> list[str]:
        return [str(a) for a in self._container.get("args", [])]

    @property
    def accelerator(self) -> str | None:
        kind = self._pool.get("machineSpec", {}).get("acceleratorType")
        return None if kind in (None, "ACCELERATOR_TYPE_UNSPECIFIED") else str(kind)

    @property
    def flex_start(self) -> bool:
        return self.scheduling.get("strategy") == "FLEX_START"

    @property
    def max_wait_seconds(self) -> float | None:
        """None means wait without limit ("If set to 0, the job will wait indefinitely")."""
        given = self.scheduling.get("maxWaitDuration")
        wait = DEFAULT_MAX_WAIT_SECONDS if given is None else seconds(given)
        return None if wait == 0 else wait

    @property
    def timeout_seconds(self) -> float:
        given = self.scheduling.get("timeout")
        return DEFAULT_TIMEOUT_SECONDS if given is None else seconds(given)

    @property
    def package_uris(self) -> list[str]:
        return list(self._package.get("packageUris", []))

    @property
    def python_module(self) -> str:
        return str(self._package.get("pythonModule", ""))

    @property
    def args(self) -> list[str]:
        return [str(a) for a in self._package.get("args", [])]

    def replica_env(self, project: str, storage_emulator_host: str | None, venv_bin: Path) -> dict[str, str]:
        """A clean environment: base variables, the job's `env`, then what Vertex itself sets."""
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        # `python` on PATH is the job's venv, as `python` is the image's interpreter on Vertex.
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
        spec_env = (self._package or self._container).get("env", [])
        env.update({item["name"]: str(item.get("value", "")) for item in spec_env})
        if self._output_prefix:
            # CustomJobSpec.baseOutputDirectory: AIP_MODEL_DIR = <baseOutputDirectory>/model/ etc. Whether
            # Vertex drops a trailing slash of the base is not documented: the less convenient case, kept.
            prefix = self._output_prefix
            env["AIP_MODEL_DIR"] = f"{prefix}/model/"
            env["AIP_CHECKPOINT_DIR"] = f"{prefix}/checkpoints/"
            env["AIP_TENSORBOARD_LOG_DIR"] = f"{prefix}/logs/"
        env["CLOUD_ML_JOB_ID"] = self.job_id
        env["CLOUD_ML_PROJECT_ID"] = project
        env["CLOUD_ML_REGION"] = self.region
        env.update(self._cluster_env())
        if storage_emulator_host:
            env["STORAGE_EMULATOR_HOST"] = storage_emulator_host  # the local stand-in for GCS access
        env["PYTHONUNBUFFERED"] = "1"  # replica.log shows lines as they are printed
        return env

    def _cluster_env(self) -> dict[str, str]:
        # One replica: workerpool0 in CLUSTER_SPEC, "chief" in TF_CONFIG, as Vertex names them.
        address = f"cmle-training-workerpool0-{self.job_id[:10]}-0:2222"
        if self._package:
            job: dict[str, Any] = {
                "python_module": self.python_module,
                "package_uris": self.package_uris,
                "job_args": self.args,
            }
        else:  # LOCAL: no public sample of `job` for a container pool
            job = {"image_uri": self.container_image, "job_args": self.container_args}
        cluster_spec = {
            "cluster": {"workerpool0": [address]},
            "environment": "cloud",
            "task": {"type": "workerpool0", "index": 0},
            "job": json.dumps(job),
        }
        tf_config = {
            "cluster": {"chief": [address]},
            "environment": "cloud",
            "task": {"type": "chief", "index": 0},
            "job": job,
        }
        return {"CLUSTER_SPEC": json.dumps(cluster_spec), "TF_CONFIG": json.dumps(tf_config)}
