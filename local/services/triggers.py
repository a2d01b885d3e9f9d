"""How the local cloud connects its functions: each function process's environment, the Eventarc
routes that deliver their events, and the Cloud Scheduler jobs that tick the reconciler."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from deploy import spec as deploy_spec
from deploy import topology
from local.standins.eventarc import Route, Routes
from local.standins.scheduler import Jobs, ScheduledJob

# The variables that are Secret Manager secrets in production; locally the stand-ins' endpoints.
_LOCAL_SECRETS = sorted({secret.env for spec in deploy_spec.FUNCTIONS for secret in spec.secrets})
# The one setting the local cloud adds beyond a function's deploy spec: the reconciler's threshold, shortened
# to match the local scheduler's ticks (production leaves it at its default).
RECONCILE_AFTER = "FLEXRUN_RECONCILE_AFTER"


@dataclass(frozen=True)
class Timings:
    """How long the local cloud's documented delays last: production's, shortened so tests don't wait minutes.

    Each keeps production's order of events; only the length changes. `vertex_end_delay`: a job's last
    `service` log line → its terminal state and error (Vertex: "About one minute after a job ends, Vertex
    AI sets the error code", cloud.google.com/vertex-ai/docs/training/understanding-training-service);
    the Eventarc backoff between redeliveries (production: 10 s → 600 s,
    cloud.google.com/eventarc/docs/retry-events); the reconciler's Cloud Scheduler period (ours:
    every 10 minutes in deploy/spec.py) and how long a run must be open before it reads its job
    (FLEXRUN_RECONCILE_AFTER, default 15 minutes).
    """

    vertex_end_delay: float = 3.0
    eventarc_min_backoff: float = 0.5
    eventarc_max_backoff: float = 10.0
    reconcile_every: float = 3.0
    reconcile_after: int = 5  # whole seconds (the duration grammar); past a live event's own retries


def function_envs(
    cloud_env: Mapping[str, str], overrides: Mapping[str, str], timings: Timings
) -> dict[str, dict[str, str]]:
    """Each function's environment: its deploy spec's with local values, then the caller's overrides."""
    # Secrets in production come from Secret Manager; locally from the stand-ins that serve them.
    secrets = {name: cloud_env[name] for name in _LOCAL_SECRETS if name in cloud_env}
    envs = {
        spec.name: {**deploy_spec.local_env(spec, secrets, cloud_env), **overrides} for spec in deploy_spec.FUNCTIONS
    }
    for spec in ticked():
        envs[spec.name].setdefault(RECONCILE_AFTER, str(timings.reconcile_after))
    return envs


def eventarc_routes(pubsub_host: str, function_urls: Mapping[str, str], timings: Timings) -> Routes:
    return Routes(
        pubsub_host=pubsub_host,
        project=topology.PROJECT_ID,
        package_bucket=topology.PACKAGE_BUCKET,
        routes=tuple(
            Route(spec.name, spec.subscription, spec.topic, spec.event_type, function_urls[spec.name])
            for spec in deploy_spec.FUNCTIONS
        ),
        min_backoff=timings.eventarc_min_backoff,
        max_backoff=timings.eventarc_max_backoff,
    )


def scheduler_jobs(pubsub_host: str, timings: Timings) -> Jobs:
    jobs = tuple(
        ScheduledJob(spec.schedule.job, spec.topic, timings.reconcile_every, spec.schedule.message_body,
                     dict(spec.schedule.attributes))
        for spec in ticked() if spec.schedule is not None
    )  # fmt: skip
    return Jobs(pubsub_host, topology.PROJECT_ID, jobs)


def ticked() -> list[deploy_spec.FunctionSpec]:
    """The functions the local Cloud Scheduler ticks: the reconciler (the nightly run is published by hand)."""
    return [spec for spec in deploy_spec.FUNCTIONS if spec.topic == topology.RECONCILE_REQUESTS_TOPIC]
