"""Job persistence: one JSON file per job under `<state-dir>/jobs/<id>/job.json`.

A job is kept as the CustomJob's proto-JSON form (camelCase, enum names) so the files are
readable and a restarted service answers get/list for every past job.
"""

from __future__ import annotations

import copy
import json
import os
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Job = dict[str, Any]

TERMINAL_STATES = frozenset(
    {
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLED",
        "JOB_STATE_EXPIRED",
        "JOB_STATE_PARTIALLY_SUCCEEDED",
    }
)


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def job_id_of(job: Job) -> str:
    return str(job["name"]).rsplit("/", 1)[-1]


class JobStore:
    """Thread-safe job table; every change is written through to disk before it is visible."""

    def __init__(self, state_dir: Path) -> None:
        self._dir = state_dir / "jobs"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        for path in self._dir.glob("*/job.json"):
            job = json.loads(path.read_text())
            self._jobs[job_id_of(job)] = job

    def job_dir(self, job_id: str) -> Path:
        return self._dir / job_id

    def new_id(self) -> str:
        # Vertex ids are int64 decimal strings of 18-19 digits; random ones never collide in practice.
        with self._lock:
            while True:
                candidate = str(random.randint(10**18, 2**63 - 1))
                if candidate not in self._jobs:
                    return candidate

    def add(self, job: Job) -> Job:
        with self._lock:
            self._jobs[job_id_of(job)] = job
            self._write(job)
            return copy.deepcopy(job)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return copy.deepcopy(job) if job is not None else None

    def all(self) -> list[Job]:
        """Newest first, as the Vertex console lists them."""
        with self._lock:
            jobs = [copy.deepcopy(j) for j in self._jobs.values()]
        return sorted(jobs, key=lambda j: (j.get("createTime", ""), job_id_of(j)), reverse=True)

    def update(self, job_id: str, change: Callable[[Job], None]) -> Job:
        """Apply `change` to the stored job under the lock; `updateTime` follows every change."""
        with self._lock:
            job = self._jobs[job_id]
            change(job)
            job["updateTime"] = now_rfc3339()
            self._write(job)
            return copy.deepcopy(job)

    def fail_unfinished(self, message: str) -> list[Job]:
        """After a restart nothing is running any more: say so instead of pretending."""
        failed = []
        for job in self.all():
            if job.get("state") in TERMINAL_STATES:
                continue

            def mark(j: Job) -> None:
                j["state"] = "JOB_STATE_FAILED"
                j["error"] = {"code": 14, "message": message}
                j["endTime"] = now_rfc3339()

            failed.append(self.update(job_id_of(job), mark))
        return failed

    def _write(self, job: Job) -> None:
        # Write-then-rename so a crash never leaves a half-written job file behind.
        path = self._dir / job_id_of(job) / "job.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{threading.get_ident()}")
        tmp.write_text(json.dumps(job, indent=2, sort_keys=True))
        os.replace(tmp, path)
