"""The whole local cloud: start every stand-in in dependency order, stop each by its own PID."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from deploy import spec as deploy_spec
from deploy import topology
from local.services import clients, cloud_state, gcs, jobservice, mongo, postgres, projectapis, pubsub, triggers
from local.services.functions import start_function
from local.services.processes import ManagedProcess, ProcessStartError
from local.services.supervisor import Supervisor
from local.services.triggers import Timings
from local.standins import slack
from local.standins.eventarc import start_eventarc
from local.standins.postgrest import start_postgrest
from local.standins.scheduler import start_scheduler
from shared.config import logs

if TYPE_CHECKING:
    from google.cloud import pubsub_v1, storage

    from shared.cloud.gcs import StorageClient

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = (
    "pubsub", "gcs", "mongo", "postgres", "postgrest", "slack", "vertex", "projectapis", "functions", "eventarc",
    "scheduler",
)  # fmt: skip
NEEDS = {
    "gcs": {"pubsub"},
    "vertex": {"pubsub", "gcs"},
    "eventarc": {"pubsub", "functions"},
    "scheduler": {"pubsub"},
    "postgrest": {"postgres"},
}


def default_services() -> tuple[str, ...]:
    """Everything; Vertex only once its stand-in is in the checkout, Supabase only with a PostgreSQL server."""
    left_out = set() if jobservice.available(REPO_ROOT) else {"vertex"}
    if not postgres.available():
        left_out |= {"postgres", "postgrest"}
    return tuple(s for s in SERVICES if s not in left_out)


class LocalCloud:
    """Start with `start()` or `with LocalCloud(dir) as cloud:`; `.env` is what a client needs."""

    def __init__(
        self,
        state_dir: Path | str,
        services: Collection[str] | None = None,
        function_sources: Mapping[str, str] | None = None,
        function_env: Mapping[str, str] | None = None,
        timings: Timings | None = None,
        requests_dir: Path | None = None,
        daemon: Mapping[str, Any] | None = None,
    ) -> None:
        """`function_sources` maps a function name to another source file (tests' fixture functions);
        `function_env` adds to or overrides, in every function process, the environment the deploy
        spec gives it (test knobs: fault proxies, recorder paths); `requests_dir` and `daemon` are set by
        the supervising process of `python -m local up` (local/services/daemon.py)."""
        self.state_dir = Path(state_dir).resolve()
        self.services = tuple(s for s in SERVICES if s in (services or default_services()))
        unknown = set(services or ()) - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}; choose from {SERVICES}")
        for service in self.services:
            if missing := NEEDS.get(service, set()) - set(self.services):
                raise ValueError(f"{service} needs {sorted(missing)} as well")
        self.function_sources = dict(function_sources or {})
        self.function_env = dict(function_env or {})
        self.timings = timings or Timings()
        # Processes in start order, grouped in tiers: a tier's members started side by side and
        # depend only on earlier tiers, so a tier stops together, last tier first.
        self.tiers: list[list[ManagedProcess]] = []
        self.endpoints: dict[str, str] = {}
        self.function_urls: dict[str, str] = {}
        self.env: dict[str, str] = {}
        # Each function process's environment: its deploy spec's, with local values (deploy/spec.py).
        self.function_envs: dict[str, dict[str, str]] = {}
        self.daemon = dict(daemon) if daemon else None
        self.ready = False
        self.supervisor = Supervisor(lambda: self.processes, revive=self._revive, requests_dir=requests_dir)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, attempts: int = 3) -> LocalCloud:
        """Start the selected services; on any failure, stop what was started and re-raise.

        Ports are picked free (bind to port 0) and then handed to a child, so another program on the
        machine can take one in between: a start that lost such a race is retried with fresh ports.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, attempts + 1):
            try:
                self._start()
                break
            except ProcessStartError as error:
                self.stop()
                if attempt == attempts or not _lost_a_port_race(error):
                    raise
            except BaseException:
                self.stop()
                raise
        self.ready = True
        self._write_state()
        self.supervisor.start()
        return self

    @property
    def processes(self) -> list[ManagedProcess]:
        return [process for tier in self.tiers for process in tier]

    def _run(self, process: ManagedProcess, endpoint: str | None = None, new_tier: bool = True) -> str:
        if new_tier or not self.tiers:
            self.tiers.append([])
        self.tiers[-1].append(process)
        self._write_state()  # after every start, so `down` finds a half-started cloud too
        return endpoint or ""

    def _start(self) -> None:
        selected, sd = set(self.services), self.state_dir
        # What a client of the local cloud (tests, the demo, the CLI) needs: every function's settings
        # with local values, and below, every endpoint. A function process gets only its own share.
        self.env = {
            name: value
            for function in deploy_spec.FUNCTIONS
            for name, value in deploy_spec.local_settings(function).items()
        }
        self.env["FLEXRUN_LOCAL"] = "1"
        if "pubsub" in selected:
            process, host = pubsub.start_pubsub(sd)
            self.env["PUBSUB_EMULATOR_HOST"] = self.endpoints["pubsub"] = self._run(process, host)
            pubsub.create_topology(host, topology.PROJECT_ID, topology.TOPICS, deploy_spec.FUNCTIONS)
            pubsub.republish_backlog(host, topology.PROJECT_ID, sd)  # what an earlier `down` kept
        if "gcs" in selected:
            process, url = gcs.start_gcs(
                sd, self.env["PUBSUB_EMULATOR_HOST"], topology.PROJECT_ID, topology.PACKAGE_EVENTS_TOPIC
            )
            self.env["STORAGE_EMULATOR_HOST"] = self.endpoints["gcs"] = self._run(process, url)
            gcs.create_buckets(url, topology.PROJECT_ID, (topology.PACKAGE_BUCKET, topology.STAGING_BUCKET))
        # Services that need only storage and Pub/Sub start side by side (each waits on its own
        # readiness): on a 2-core laptop this saves seconds, most of all on the functions' imports.
        tasks: dict[str, Callable[[], tuple[ManagedProcess, str]]] = {}
        if "mongo" in selected:
            tasks["mongo"] = lambda: mongo.start_mongo(sd)
        if "slack" in selected:
            tasks["slack"] = lambda: slack.start_slack(sd, sys.executable, REPO_ROOT)
        if "postgres" in selected:
            tasks["postgres"] = lambda: postgres.start_postgres(sd, REPO_ROOT / "supabase" / "migrations")
        if "vertex" in selected:
            storage_host, pubsub_host = self.env["STORAGE_EMULATOR_HOST"], self.env["PUBSUB_EMULATOR_HOST"]
            tasks["vertex"] = lambda: jobservice.start_vertex(
                sd, REPO_ROOT, storage_host, pubsub_host, end_delay_seconds=self.timings.vertex_end_delay
            )
        if "projectapis" in selected:
            seed = projectapis.initial_state(self.env)
            tasks["projectapis"] = lambda: projectapis.start_projectapis(sd, REPO_ROOT, seed)
        self.endpoints.update(self._parallel(tasks))
        if "projectapis" in selected:
            self.env["FLEXRUN_PROJECT_APIS_ENDPOINT"] = self.endpoints["projectapis"]
        if "mongo" in selected:
            self.env["MONGODB_URL"] = self.endpoints["mongo"]
        if "postgrest" in selected:
            process, url = start_postgrest(
                sd, sys.executable, REPO_ROOT, self.endpoints["postgres"], topology.SUPABASE_KEY
            )
            self.env["SUPABASE_URL"] = self.endpoints["postgrest"] = self._run(process, url)
            self.env["SUPABASE_KEY"] = topology.SUPABASE_KEY
        if "slack" in selected:
            self.env["SLACK_WEBHOOK_URL"] = f"{self.endpoints['slack']}/services/local/flexrun/hook"
        if "vertex" in selected:
            self.env["VERTEX_AI_API_ENDPOINT"] = self.endpoints["vertex"]
        if "functions" in selected:
            self.function_envs = triggers.function_envs(self.env, self.function_env, self.timings)
            self.function_urls = self._parallel(
                {
                    spec.name: partial(
                        start_function,
                        spec,
                        sd,
                        REPO_ROOT,
                        self.function_envs[spec.name],
                        self.function_sources.get(spec.name),
                    )
                    for spec in deploy_spec.FUNCTIONS
                }
            )
            self.endpoints.update({f"function:{name}": url for name, url in self.function_urls.items()})
        if "eventarc" in selected:
            routes = triggers.eventarc_routes(self.env["PUBSUB_EMULATOR_HOST"], self.function_urls, self.timings)
            self._run(start_eventarc(sd, sys.executable, REPO_ROOT, routes))
        if "scheduler" in selected:
            jobs = triggers.scheduler_jobs(self.env["PUBSUB_EMULATOR_HOST"], self.timings)
            self._run(start_scheduler(sd, sys.executable, REPO_ROOT, jobs))

    def _parallel(self, tasks: Mapping[str, Callable[[], tuple[ManagedProcess, str]]]) -> dict[str, str]:
        """Run start functions concurrently; keep every process that started, then raise a failure."""
        if not tasks:
            return {}
        endpoints: dict[str, str] = {}
        errors: list[BaseException] = []
        self.tiers.append([])
        with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
            futures = {name: pool.submit(task) for name, task in tasks.items()}
            for name, future in futures.items():
                try:
                    process, endpoint = future.result()
                except BaseException as error:  # noqa: BLE001 — re-raised below, after the others
                    errors.append(error)
                    continue
                endpoints[name] = self._run(process, endpoint, new_tier=False)
        if errors:
            raise errors[0]
        return endpoints

    def stop(self, wipe: bool = True) -> None:
        """Stop every process in reverse start order, each by its own PID; safe to call again.

        With `wipe=False` (`python -m local down`) the data stays for the next start: the MongoDB
        file, the local Supabase's PostgreSQL data and every message not delivered yet (saved from
        the Pub/Sub emulator, which keeps them only in memory, once nothing pulls them any more).
        """
        self.supervisor.stop()
        while self.tiers:
            tier = self.tiers[-1]
            if not wipe and [p.name for p in tier] == ["pubsub"] and "pubsub" in self.endpoints:
                try:
                    saved = pubsub.save_backlog(
                        self.endpoints["pubsub"], topology.PROJECT_ID, deploy_spec.FUNCTIONS, self.state_dir
                    )
                    logs.notice("undelivered messages kept for the next start", count=saved)
                except Exception as error:  # noqa: BLE001 — stopping must go on; say what was lost
                    logs.error("could not keep undelivered messages", error=repr(error))
            _stop_together(self.tiers.pop())
        if wipe:
            postgres.remove_data(self.state_dir)
            (self.state_dir / pubsub.BACKLOG_FILE).unlink(missing_ok=True)
            shutil.rmtree(self.state_dir / "gcs", ignore_errors=True)
        cloud_state.forget(self.state_dir)

    def _write_state(self) -> None:
        cloud_state.write(
            self.state_dir, env=self.env, ready=self.ready, daemon=self.daemon, endpoints=self.endpoints,
            function_envs=self.function_envs, tiers=self.tiers,
        )  # fmt: skip

    # Faults for the chaos tests: one service down for a while, then back with its port and data.
    def process(self, name: str) -> ManagedProcess:
        """The process of a service (`mongo`, `pubsub`, ...) or of a function (`submit-run`, ...)."""
        wanted = name if name in SERVICES else f"function-{name}"
        return next(p for p in self.processes if p.name == wanted)

    def stop_service(self, name: str) -> None:
        with self.supervisor.lock:
            self.process(name).stop()

    def start_service(self, name: str) -> None:
        """Start a stopped service again on its port with its environment."""
        with self.supervisor.lock:
            self._revive(self.process(name))

    def _revive(self, process: ManagedProcess) -> None:
        """(Re)start a process on its port; the in-memory emulators also get their topology back
        (production Pub/Sub keeps its topics and subscriptions; Cloud Storage keeps its objects on disk here)."""
        process.restart()
        if process.name == "pubsub":
            pubsub.create_topology(
                self.endpoints["pubsub"], topology.PROJECT_ID, topology.TOPICS, deploy_spec.FUNCTIONS
            )
        self._write_state()  # new PIDs, so `down` still finds them

    def restart_service(self, name: str, env: Mapping[str, str | None] | None = None) -> None:
        """Restart a service or function on its port with its environment, changed by `env` first
        (a None value removes a variable): a redeploy with new settings."""
        with self.supervisor.lock:
            process = self.process(name)
            if env:
                merged = {**(process.env or {}), **env}
                process.env = {key: value for key, value in merged.items() if value is not None}
        self.start_service(name)

    # Helpers for tests and the demo.
    def storage_client(self) -> storage.Client:
        return clients.storage_client(self.env["STORAGE_EMULATOR_HOST"])

    def function_storage(self) -> StorageClient:
        """The functions' own Cloud Storage client (shared/cloud/gcs.py) on this cloud: for a test that
        hands storage to a function's core, which catches that client's errors."""
        from shared.cloud.gcs import StorageClient

        return StorageClient(topology.PROJECT_ID, self.env["STORAGE_EMULATOR_HOST"], anonymous=True)

    def publisher(self) -> pubsub_v1.PublisherClient:
        return clients.publisher_client(self.env["PUBSUB_EMULATOR_HOST"])

    def function_url(self, name: str) -> str:
        return self.function_urls[name]

    def log_path(self, name: str) -> Path:
        """The log of a process: a name from SERVICES (`mongo`, `postgrest`, ...) or a function's."""
        prefix = "" if name in SERVICES else "function-"
        return self.state_dir / "logs" / f"{prefix}{name}.log"

    def slack_messages(self) -> list[dict[str, Any]]:
        """The payloads posted to the Slack webhook so far, oldest first."""
        with urllib.request.urlopen(f"{self.endpoints['slack']}/_received", timeout=5) as response:
            return [entry["payload"] for entry in json.load(response)]


def _lost_a_port_race(error: ProcessStartError) -> bool:
    text = str(error).lower()
    return "address already in use" in text or "bind: address" in text


def _stop_together(processes: list[ManagedProcess]) -> None:
    if len(processes) == 1:
        processes[0].stop()
    elif processes:
        with ThreadPoolExecutor(max_workers=len(processes)) as pool:
            list(pool.map(lambda process: process.stop(), processes))
