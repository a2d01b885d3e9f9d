"""Running one CustomJob: capacity, provisioning, package install, the replica process, its end.

One thread per job walks QUEUED -> PENDING -> RUNNING -> SUCCEEDED | FAILED, or to CANCELLED
when `cancel()` is called. Every state change is written to the store and to the log sink.

A job ends as Vertex documents it (google-facts.md, "The error arrives late"): its last `service`
lines first (the error text on its own ERROR line, then "Finished tearing down training program." and
"Job failed." / "Job completed successfully."), and the terminal state with its `error` only
`end_delay_seconds` later, so the read those lines trigger still sees JOB_STATE_RUNNING. A job
cancelled while pending and a FLEX_START max-wait expiry write no `service` line at all (no public
sample of one exists): only a reconciler sees them end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.standins.vertex import messages, replicas
from local.standins.vertex.capacity import CapacityPool
from local.standins.vertex.environments import EnvironmentCache, InstallFailed
from local.standins.vertex.logsink import LogSink
from local.standins.vertex.store import TERMINAL_STATES, Job, JobStore, now_rfc3339
from local.standins.vertex.workload import Workload
from shared.config.logs import log

_KILL_GRACE_SECONDS = 3.0


@dataclass(frozen=True)
class RunnerContext:
    """What every runner shares; built once by the service."""

    store: JobStore
    capacity: CapacityPool
    environments: EnvironmentCache
    sink: LogSink
    project: str
    provision_seconds: float
    storage_emulator_host: str | None
    end_delay_seconds: float = 0.0  # final log lines → terminal state and error (Vertex: about a minute)
    images: frozenset[str] = frozenset()  # container images "pushed" here: built from image/ (the launcher)
    launcher: Path | None = None  # image/launcher.py: the entry point of those images


class JobRunner:
    def __init__(self, ctx: RunnerContext, job: Job) -> None:
        self._ctx = ctx
        self._work = Workload(job)
        self.job_id = self._work.job_id
        self._dir = ctx.store.job_dir(self.job_id)
        self._replica_log = self._dir / "replica.log"
        self._stop = threading.Event()  # cancel or shutdown: stop advancing
        self._shutting_down = False
        self._lock = threading.Lock()  # orders state changes against cancel()
        self._process: subprocess.Popen[bytes] | None = None  # the chief (workerpool0-0)
        self._others = replicas.Others()  # every other replica of a multi-replica job
        self._holding: str | None = None
        self._ending = False  # the end is decided (lines written), its state not stored yet

    # ---- called from API threads ------------------------------------------------------------
    def cancel(self) -> Job:
        """Before the replica runs: CANCELLED at once. While it runs: CANCELLING, then kill."""
        with self._lock:
            if self._ending:  # too late: the job already ended, Vertex just has not said so yet
                return self._ctx.store.get(self.job_id) or {}
            self._stop.set()
            if self._process is None:
                return self._finish("JOB_STATE_CANCELLED", "INFO", silent=True)  # no line: google-facts.md
            job = self._set_state("JOB_STATE_CANCELLING", "INFO")
        self._kill()
        return job

    def shutdown(self) -> None:
        """Service stopping: kill the replica, leave the stored state for the restart to judge."""
        with self._lock:
            self._shutting_down = True
            self._stop.set()
        self._kill()

    # ---- the job thread ---------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except Exception as error:  # a bug here must not leave the job pending forever
            log("ERROR", "runner crashed", job_id=self.job_id, error=repr(error))
            self._fail(13, f"Internal error in local Vertex: {error!r}")
        finally:
            if self._holding is not None:
                self._ctx.capacity.release(self._holding)
                log("INFO", "capacity released", job_id=self.job_id, accelerator=self._holding)

    def _run(self) -> None:
        if not self._advance("JOB_STATE_PENDING"):
            return
        image = self._work.container_image
        if image is not None and (image not in self._ctx.images or self._ctx.launcher is None):
            self._fail(3, messages.image_not_found(image))
            return
        if not self._claim_capacity():
            return
        if self._stop.wait(self._ctx.provision_seconds):
            return
        self._ctx.sink.emit(self.job_id, "INFO", messages.PROVISIONED)
        if not self._advance("JOB_STATE_RUNNING", startTime=now_rfc3339()):
            return
        deadline = time.monotonic() + self._work.timeout_seconds
        if image is not None:
            self._execute(self._container_command(), self._ctx.environments.executor.parent, deadline)
            return
        try:
            packages = self._download()
            environment = self._ctx.environments.ensure(packages, self._replica_log)
        except InstallFailed as failure:
            detail = f"Installing the package failed: {failure}. Details:\n{failure.output}"
            self._fail(3, messages.replica_exit(1, self._ctx.project, self.job_id, detail))
            return
        log("INFO", "environment ready", job_id=self.job_id, venv=str(environment.path), reused=environment.reused)
        python = environment.python
        self._execute([str(python), "-m", self._work.python_module, *self._work.args], python.parent, deadline)

    def _container_command(self) -> list[str]:
        """The container's process: the image's entry point (the launcher on the executor's python) + args.

        The executor venv stands for the image's Python environment; the launcher layers the run's
        package on it in a venv of its own, so the shared executor venv is never written to.
        """
        python = str(self._ctx.environments.executor)
        command = self._work.container_command or [python, str(self._ctx.launcher)]
        return [*command, *self._work.container_args]

    def _claim_capacity(self) -> bool:
        accelerator = self._work.accelerator
        if accelerator is None:
            return True
        region = self._work.region
        if not self._work.flex_start:
            if not self._ctx.capacity.try_acquire(accelerator):
                log("INFO", "stockout", job_id=self.job_id, accelerator=accelerator)
                self._fail(8, messages.stockout(region))
                return False
        else:
            wait = self._work.max_wait_seconds
            log("INFO", "waiting for capacity", job_id=self.job_id, accelerator=accelerator, max_wait_s=wait)
            deadline = None if wait is None else time.monotonic() + wait
            if not self._ctx.capacity.acquire(accelerator, deadline, self._stop):
                if not self._stop.is_set():
                    waited = self._work.scheduling.get("maxWaitDuration", "86400s")
                    with self._lock:
                        if not self._stop.is_set():
                            error = {"code": 8, "message": messages.flex_start_expired(region, accelerator, waited)}
                            self._finish("JOB_STATE_FAILED", "ERROR", silent=True, error=error)  # no line either
                return False
        self._holding = accelerator
        log("INFO", "capacity claimed", job_id=self.job_id, accelerator=accelerator)
        return True

    def _download(self) -> list[Path]:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        # STORAGE_EMULATOR_HOST makes the client talk to the local fake-gcs-server.
        client = storage.Client(project=self._ctx.project, credentials=AnonymousCredentials())
        target = self._dir / "packages"
        target.mkdir(parents=True, exist_ok=True)
        files = []
        for uri in self._work.package_uris:
            if not uri.startswith("gs://") or "/" not in uri[5:]:
                raise InstallFailed(f"package URI {uri!r} is not gs://bucket/object", "")
            bucket, name = uri[5:].split("/", 1)
            path = target / Path(name).name
            with open(self._replica_log, "a") as out:
                out.write(f"Downloading the package: {uri}\n")
            try:
                client.bucket(bucket).blob(name).download_to_filename(str(path))
            except Exception as error:
                raise InstallFailed(f"downloading {uri} failed", repr(error)) from error
            files.append(path)
        return files

    def _execute(self, command: list[str], bin_dir: Path, deadline: float) -> None:
        workdir = self._dir / "workdir"
        (self._dir / "tmp").mkdir(parents=True, exist_ok=True)
        workdir.mkdir(parents=True, exist_ok=True)
        env = self._work.replica_env(self._ctx.project, self._ctx.storage_emulator_host, bin_dir)
        env["TMPDIR"] = str(self._dir / "tmp")  # a container's /tmp is its own: the launcher's venv goes there
        slots = replicas.slots(self._work.pools)
        job = {"python_module": self._work.python_module, "package_uris": self._work.package_uris}
        cluster = replicas.cluster_env(slots, {**job, "job_args": self._work.args}) if len(slots) > 1 else {}
        if cluster:
            env.update(cluster[replicas.Slot(0, 0)])
        with open(self._replica_log, "a") as out:
            shown = ["python3", *command[1:]] if Path(command[0]).name.startswith("python") else command
            out.write("Running command: " + " ".join(shown) + "\n")
            out.flush()
            with self._lock:
                if self._stop.is_set():
                    return
                # Own session, so a kill reaches everything the trainer started.
                self._process = subprocess.Popen(
                    command,
                    cwd=workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                self._others.start(
                    lambda pool: replicas.pool_command(command, self._work.pools[pool]), workdir, env, cluster
                )
            log("INFO", "replica started", job_id=self.job_id, pid=self._process.pid, command=command[1:3])
            timed_out = False
            try:
                code = self._process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
                self._kill()
                code = self._process.wait()
            replica = "workerpool0-0"
            if code == 0 and not timed_out and self._others.processes:
                try:
                    failed = self._others.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    timed_out, failed = True, None
                if failed:
                    replica, code = failed[0].task_name, failed[1]
            self._kill()  # a replica left running after the chief failed (or another one did)
        log("INFO", "replica exited", job_id=self.job_id, code=code, timed_out=timed_out, replica=replica)
        with self._lock:
            if self._shutting_down:
                return
            if self._stop.is_set():
                self._finish("JOB_STATE_CANCELLED", "INFO")
            elif timed_out:
                self._fail_locked(4, messages.timed_out(self._work.scheduling.get("timeout", "604800s")))
            elif code == 0:
                self._finish("JOB_STATE_SUCCEEDED", "INFO")
            else:
                status = code if code > 0 else 128 - code  # killed by signal N reads as 128+N
                self._fail_locked(3, messages.replica_exit(status, self._ctx.project, self.job_id, replica=replica))

    def _kill(self) -> None:
        for pid in self._others.pids():
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process = self._process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=_KILL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    # ---- state changes ----------------------------------------------------------------------
    def _advance(self, state: str, **fields: Any) -> bool:
        """Move forward unless cancel or shutdown came first."""
        with self._lock:
            if self._stop.is_set():
                return False
            self._set_state(state, "INFO", **fields)
            return True

    def _fail(self, code: int, message: str) -> None:
        with self._lock:
            if not self._stop.is_set():
                self._fail_locked(code, message)

    def _fail_locked(self, code: int, message: str) -> None:
        self._finish("JOB_STATE_FAILED", "ERROR", error={"code": code, "message": message})

    def _finish(self, state: str, severity: str, *, silent: bool = False, **fields: Any) -> Job:
        """The job's end: its last service lines now (unless `silent`), state and error a delay later."""
        if self._ending:
            return self._ctx.store.get(self.job_id) or {}
        self._ending = True
        fields["endTime"] = now_rfc3339()
        if not silent:
            if "error" in fields:
                self._ctx.sink.emit(self.job_id, "ERROR", fields["error"]["message"])
            if state != "JOB_STATE_CANCELLED" and self._process is not None:
                self._ctx.sink.emit(self.job_id, "INFO", messages.TORN_DOWN)
            self._ctx.sink.emit(self.job_id, severity, messages.STATE_TEXT[state])
        log(severity, "job ended", job_id=self.job_id, state=state, silent=silent, error=fields.get("error"),
            state_in_s=self._ctx.end_delay_seconds)  # fmt: skip
        if self._ctx.end_delay_seconds <= 0:
            return self._store_state(state, fields)
        timer = threading.Timer(self._ctx.end_delay_seconds, self._store_state, args=(state, fields))
        timer.daemon = True
        timer.start()
        return self._ctx.store.get(self.job_id) or {}

    def _store_state(self, state: str, fields: dict[str, Any]) -> Job:
        def change(job: Job) -> None:
            if job.get("state") not in TERMINAL_STATES:
                job["state"] = state
                job.update(fields)

        job = self._ctx.store.update(self.job_id, change)
        log("INFO", "job state changed", job_id=self.job_id, state=job["state"], error=fields.get("error"))
        return job

    def _set_state(self, state: str, severity: str, **fields: Any) -> Job:
        def change(job: Job) -> None:
            if job.get("state") in TERMINAL_STATES:
                return  # a finished job never changes again
            job["state"] = state
            job.update(fields)

        job = self._ctx.store.update(self.job_id, change)
        if job["state"] == state:
            self._ctx.sink.emit(self.job_id, severity, messages.STATE_TEXT[state])
            log(severity, "job state changed", job_id=self.job_id, state=state, error=fields.get("error"))
        return job
