"""The deploy spec: one declaration of each Cloud Function, read by both of its consumers.

- `deploy/generate.py` writes `cloudbuild.yaml` from it (`python -m deploy cloudbuild`), and a test
  fails when the file and the spec disagree.
- The local cloud (`local/services/cloud.py`) starts each function process with exactly the
  environment declared here, rendered with local values, plus the local endpoints.

Values are written in Cloud Build's substitution syntax (`${_BUCKET}`, `${PROJECT_ID}`), so the very
same text is substituted by Cloud Build in production and by `local_env()` locally. A variable a
function's code reads must be declared for it or be in `LEFT_AT_DEFAULT` (tests/deploy/test_spec.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from deploy import topology
from deploy.cloudbuild import substitute


class Trigger(StrEnum):
    """How Eventarc feeds the function (`gcloud functions deploy --trigger-*`)."""

    BUCKET = "bucket"  # object finalized in the package bucket
    TOPIC = "topic"  # message published on `FunctionSpec.topic`


@dataclass(frozen=True)
class Secret:
    """An environment variable resolved from Secret Manager at instance start (`--set-secrets`)."""

    env: str
    secret: str  # the secret's name, as a substitution: `${_MONGODB_SECRET}`
    version: str = "latest"


@dataclass(frozen=True)
class Schedule:
    """A Cloud Scheduler job publishing to a function's topic."""

    job: str  # Cloud Scheduler job name
    cron: str  # substitution syntax allowed
    time_zone: str
    message_body: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FunctionSpec:
    """One deployed Cloud Function (2nd gen): its code, trigger, identity, environment and size."""

    name: str
    source: str  # entry file relative to the repository root, as `functions-framework --source`
    target: str  # the decorated handler
    trigger: Trigger
    topic: str  # locally: the topic its Eventarc trigger reads (the bucket's notification topic for BUCKET)
    env: Mapping[str, str]  # variable → value in substitution syntax
    secrets: tuple[Secret, ...] = ()
    service_account: str = "${_FUNCTIONS_SA}"  # account id; the email is built from it
    memory: str = "512Mi"
    cpu: str = "1"
    timeout_seconds: int = 120
    concurrency: int = 1
    max_instances: str = "${_MAX_INSTANCES}"
    retry: bool = True
    schedule: Schedule | None = None  # a Cloud Scheduler job that publishes on `topic`

    @property
    def event_type(self) -> str:
        return topology.STORAGE_FINALIZED if self.trigger is Trigger.BUCKET else topology.PUBSUB_PUBLISHED

    @property
    def subscription(self) -> str:
        """The local trigger's pull subscription (Eventarc creates its own in production)."""
        return f"eventarc-{self.name}"

    @property
    def variables(self) -> tuple[str, ...]:
        """Every variable the function is given: plain ones and secrets."""
        return tuple(sorted({*self.env, *(s.env for s in self.secrets)}))


def service_account_email(account: str) -> str:
    return f"{account}@${{PROJECT_ID}}.iam.gserviceaccount.com"


# What every function needs to find its project and bucket.
_BASE_ENV = {"GCP_PROJECT_ID": "${PROJECT_ID}", "GCP_BUCKET_NAME": "${_BUCKET}"}
# Whatever plans, creates or follows a job: where jobs run, on what, as whom, and where they write.
_JOB_ENV = {
    **_BASE_ENV,
    "GCP_REGION": "${_REGION}",
    "GCP_STAGING_BUCKET": "${_STAGING_BUCKET}",  # empty: the package bucket
    "VERTEX_AI_MACHINE_TYPE": "${_MACHINE_TYPE}",
    "VERTEX_AI_GPU_TYPE": "${_GPU_TYPE}",
    "VERTEX_AI_SERVICE_ACCOUNT": service_account_email("${_TRAINER_SA}"),
    "FLEXRUN_IMAGE_REPOSITORY": "${_IMAGE_REPOSITORY}",  # where the build pushed the trainer image
}
# Whatever follows jobs without creating them (job-state, the reconciler): where jobs run and what they cost.
_FOLLOW_ENV = {"GCP_PROJECT_ID": "${PROJECT_ID}", "GCP_REGION": "${_REGION}"}
MONGODB = Secret("MONGODB_URL", "${_MONGODB_SECRET}")
SUPABASE_URL = Secret("SUPABASE_URL", "${_SUPABASE_URL_SECRET}")
SUPABASE_KEY = Secret("SUPABASE_KEY", "${_SUPABASE_KEY_SECRET}")
SLACK = Secret("SLACK_WEBHOOK_URL", "${_SLACK_SECRET}")
_STORES = (MONGODB, SUPABASE_URL, SUPABASE_KEY)

VALIDATE_PACKAGE = FunctionSpec(
    name="validate-package",
    source="functions/validate_package.py",
    target="on_package_uploaded",
    trigger=Trigger.BUCKET,
    topic=topology.PACKAGE_EVENTS_TOPIC,
    env=_BASE_ENV,
    secrets=(SLACK,),
)
SUBMIT_RUN = FunctionSpec(
    name="submit-run",
    source="functions/submit_run.py",
    target="on_run_requested",
    trigger=Trigger.TOPIC,
    topic=topology.RUN_REQUESTS_TOPIC,
    env=_JOB_ENV,
    secrets=(*_STORES, SLACK),  # a run its quota snapshot refuses before any job is announced from here
    schedule=Schedule(
        job="flexrun-${_SCHEDULE_NAME}",
        cron="${_SCHEDULE}",
        time_zone="${_TIME_ZONE}",
        message_body="${_RUN_MESSAGE}",
        attributes={"schedule": "${_SCHEDULE_NAME}"},
    ),
)
JOB_STATE = FunctionSpec(
    name="job-state",
    source="functions/job_state.py",
    target="on_job_state_changed",
    trigger=Trigger.TOPIC,
    topic=topology.JOB_EVENTS_TOPIC,
    # Follows jobs, never creates one: a capacity fallback's next attempt is published to run-requests
    # for submit-run (shared/runs/continuation.py), so the trainer's account is not job-state's to hold.
    env=_FOLLOW_ENV,
    secrets=(*_STORES, SLACK),
    timeout_seconds=300,
)
RECONCILE_RUNS = FunctionSpec(
    name="reconcile-runs",
    source="functions/reconcile_runs.py",
    target="on_reconcile_requested",
    trigger=Trigger.TOPIC,
    topic=topology.RECONCILE_REQUESTS_TOPIC,
    env={**_FOLLOW_ENV, "GCP_BUCKET_NAME": "${_BUCKET}"},  # the quota snapshot is stored in the package bucket
    secrets=(*_STORES, SLACK),
    timeout_seconds=540,  # one tick reads every open run's job
    schedule=Schedule(
        job="flexrun-reconcile",
        cron="${_RECONCILE_SCHEDULE}",
        time_zone="Etc/UTC",
        message_body='{"reason":"reconcile"}',
    ),
)
FUNCTIONS: tuple[FunctionSpec, ...] = (VALIDATE_PACKAGE, SUBMIT_RUN, JOB_STATE, RECONCILE_RUNS)

# Settings the deploy deliberately leaves at the code's default for every function (the product's
# defaults: limits, prefixes, job sizing, the fallback policy). A setting whose default is None, or a
# required one, can never be here: a function that reads it must be given it.
LEFT_AT_DEFAULT = frozenset(
    {
        "vertex_ai_job_name",
        "vertex_ai_gpu_count",
        "vertex_ai_max_wait_duration",
        "vertex_ai_timeout",
        "vertex_ai_executor_image",
        "vertex_ai_api_endpoint",  # production: the regional endpoint; locally an endpoint, see LOCAL_ENDPOINTS
        "flexrun_packages_prefix",
        "flexrun_manifest_object",
        "flexrun_quarantine_prefix",
        "flexrun_deployable_prefix",
        "flexrun_output_prefix",
        "flexrun_trainer_module",
        "flexrun_max_package_bytes",
        "flexrun_max_unpacked_bytes",
        "flexrun_max_package_members",
        "flexrun_max_inflation_ratio",
        "flexrun_denied_requirements",
        "flexrun_max_event_age",
        "flexrun_validation_wait",
        "flexrun_fallback_chain",
        "flexrun_fallback_order",
        "flexrun_fallback_on",
        "flexrun_fallback_max_attempts",
        "flexrun_run_requests_topic",
        "flexrun_reconcile_after",
        "flexrun_trainer_secrets",
        "flexrun_quota_snapshot_object",
        "flexrun_quota_snapshot_max_age",
        "flexrun_project_apis_endpoint",  # production: Google's endpoints; locally an endpoint, see LOCAL_ENDPOINTS
    }
)

# The local cloud's values of the substitutions the spec uses (production's are in cloudbuild.yaml).
LOCAL_SUBSTITUTIONS: Mapping[str, str] = {
    "PROJECT_ID": topology.PROJECT_ID,
    "_REGION": topology.REGION,
    "_BUCKET": topology.PACKAGE_BUCKET,
    "_STAGING_BUCKET": topology.STAGING_BUCKET,
    # The local Vertex simulates DWS capacity for L4s; production defaults are in cloudbuild.yaml.
    "_MACHINE_TYPE": "g2-standard-4",
    "_GPU_TYPE": "NVIDIA_L4",
    "_TRAINER_SA": "trainer",
    "_IMAGE_REPOSITORY": "flexrun",  # the local Vertex holds the trainer image under this repository
}
# What a local function process is given beside its spec's variables: where the stand-ins listen.
LOCAL_ENDPOINTS = (
    "STORAGE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "VERTEX_AI_API_ENDPOINT",
    "FLEXRUN_PROJECT_APIS_ENDPOINT",
    "FLEXRUN_LOCAL",
)


def function(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(f"no function {name!r} in the deploy spec; known: {', '.join(s.name for s in FUNCTIONS)}")


def local_settings(spec: FunctionSpec) -> dict[str, str]:
    """The function's own variables with the local cloud's values."""
    return {name: substitute(value, LOCAL_SUBSTITUTIONS) for name, value in spec.env.items()}


def runtime_env(spec: FunctionSpec) -> dict[str, str]:
    """What Cloud Run adds to every container it runs, and so to every Cloud Functions gen2 instance.

    K_SERVICE, K_REVISION and K_CONFIGURATION (https://cloud.google.com/run/docs/container-contract,
    "Environment variables"); PORT is the framework's --port here. Libraries read them: pymongo sees a
    FaaS host and connects on the first operation and polls its monitor instead of streaming
    (pymongo/pool_options.py `_is_faas`); shared/cloud/metadata_token.py takes tokens from the metadata server.
    """
    return {"K_SERVICE": spec.name, "K_REVISION": f"{spec.name}-00001-loc", "K_CONFIGURATION": spec.name}


def local_env(spec: FunctionSpec, secrets: Mapping[str, str], endpoints: Mapping[str, str]) -> dict[str, str]:
    """The environment of one local function process: its spec's variables with local values, the
    local value of each of its secrets that the local cloud provides (a store that is not running is
    a secret not configured), the local endpoints and what Cloud Run adds. Nothing another function is given."""
    env = local_settings(spec)
    env.update({s.env: secrets[s.env] for s in spec.secrets if s.env in secrets})
    env.update({name: endpoints[name] for name in LOCAL_ENDPOINTS if name in endpoints})
    env.update(runtime_env(spec))
    return env
