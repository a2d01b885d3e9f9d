"""What a deployed flexrun needs from its project, in the doctor's terms: APIs, resources, grants.

The deployed identities' grants and the scheduler jobs come from the deploy's own data (deploy/iam.py,
deploy/spec.py) through deploy/doctor_needs.py, which shared/ cannot import; what the person running
flexrun needs (`Who.YOU`) and the APIs are here. The local cloud's stand-in is seeded from the same
`Deployment`, so a fresh local cloud passes the doctor. Each grant names the permissions
`testIamPermissions` is asked about and the role whose binding fixes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shared.config.settings import Settings

# The APIs flexrun's functions, build and doctor call (deploy/README.md's `gcloud services enable`).
APIS: tuple[tuple[str, str], ...] = (
    ("aiplatform.googleapis.com", "Vertex AI CustomJobs"),
    ("storage.googleapis.com", "packages, manifest, job outputs"),
    ("pubsub.googleapis.com", "run requests and job log events"),
    ("cloudfunctions.googleapis.com", "the functions"),
    ("run.googleapis.com", "2nd gen functions run on Cloud Run"),
    ("eventarc.googleapis.com", "the functions' triggers"),
    ("cloudbuild.googleapis.com", "the deploy build"),
    ("artifactregistry.googleapis.com", "the functions' images"),
    ("secretmanager.googleapis.com", "MongoDB URL, Slack webhook, trainer secrets"),
    ("cloudscheduler.googleapis.com", "the nightly run and the reconcile tick"),
    ("logging.googleapis.com", "the job-events log sink"),
    ("cloudquotas.googleapis.com", "the quota snapshot and this doctor"),
    ("cloudresourcemanager.googleapis.com", "this doctor's project permission tests"),
    ("iamcredentials.googleapis.com", "this doctor tests each deployed identity as itself"),
)
# cloudbuild.yaml's names (deploy/topology.py holds the same for the local cloud; shared/ cannot import deploy/).
RUN_REQUESTS_TOPIC = "run-requests"
JOB_EVENTS_TOPIC = "job-events"
RECONCILE_REQUESTS_TOPIC = "reconcile-requests"
DEAD_LETTER_TOPIC = "flexrun-dead-letter"
DEAD_LETTER_HOLD = "flexrun-dead-letter-hold"


class Kind(StrEnum):
    PROJECT = "project"
    BUCKET = "bucket"
    TOPIC = "topic"
    SECRET = "secret"


class Who(StrEnum):
    FUNCTIONS = "functions"  # runs the three functions
    INVOKER = "invoker"  # Eventarc triggers
    TRAINER = "trainer"  # the Vertex AI job
    YOU = "you"  # whoever runs `flexrun package` / `flexrun run` / this doctor


@dataclass(frozen=True)
class Grant:
    who: Who
    kind: Kind
    resource: str  # project id, bucket, topic id or secret id
    permissions: tuple[str, ...]
    role: str
    why: str


@dataclass(frozen=True)
class ScheduledJob:
    """A Cloud Scheduler job the build creates (deploy/spec.py's schedules, substitutions applied)."""

    job_id: str
    cron: str
    time_zone: str
    body: str
    topic: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Deployment:
    """Everything the doctor checks for one project, names resolved from the settings."""

    project: str
    region: str
    identities: dict[Who, str]  # service account emails; YOU is the caller's own credentials
    apis: tuple[tuple[str, str], ...]
    buckets: tuple[str, ...]
    topics: tuple[str, ...]  # each must exist and have a subscription (its trigger)
    subscriptions: tuple[str, ...]  # must exist by name
    secrets: tuple[str, ...]
    scheduler_jobs: tuple[ScheduledJob, ...]  # in `region`
    grants: tuple[Grant, ...]
    custom_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role name → its permissions


def account(name: str, project: str) -> str:
    return name if "@" in name else f"{name}@{project}.iam.gserviceaccount.com"


def trainer_secret_ids(settings: Settings) -> tuple[str, ...]:
    """The secret ids FLEXRUN_TRAINER_SECRETS names (`ENV=SECRET[:VERSION]` or a full version name)."""
    ids = []
    for item in filter(None, (part.strip() for part in settings.flexrun_trainer_secrets.split(","))):
        secret = item.partition("=")[2]
        ids.append(secret.split("/")[3] if secret.startswith("projects/") else secret.partition(":")[0])
    return tuple(ids)


def caller_grants(settings: Settings) -> tuple[Grant, ...]:
    """What the person running `flexrun package` and `flexrun run` needs (not a deployed identity)."""
    return (
        Grant(Who.YOU, Kind.TOPIC, RUN_REQUESTS_TOPIC, ("pubsub.topics.publish",), "roles/pubsub.publisher",
              "`flexrun run`"),
        Grant(Who.YOU, Kind.BUCKET, settings.gcp_bucket_name, ("storage.objects.create", "storage.objects.get"),
              "roles/storage.objectUser", "`flexrun package upload`"),
    )  # fmt: skip


def deployment(
    settings: Settings,
    *,
    grants: tuple[Grant, ...],
    secrets: tuple[str, ...],
    schedules: tuple[ScheduledJob, ...],
    local: bool,
    identities: dict[Who, str],
    custom_roles: dict[str, tuple[str, ...]] | None = None,
) -> Deployment:
    topics = (RUN_REQUESTS_TOPIC, JOB_EVENTS_TOPIC, RECONCILE_REQUESTS_TOPIC)
    trainer_secrets = tuple(
        Grant(Who.TRAINER, Kind.SECRET, secret, ("secretmanager.versions.access",),
              "roles/secretmanager.secretAccessor", "FLEXRUN_TRAINER_SECRETS: the trainer reads it at start")
        for secret in trainer_secret_ids(settings)
        if not any(g.who is Who.TRAINER and g.kind is Kind.SECRET and g.resource == secret for g in grants)
    )  # fmt: skip
    return Deployment(
        project=settings.gcp_project_id,
        region=settings.gcp_region,
        identities=identities,
        apis=APIS,
        buckets=tuple(dict.fromkeys((settings.gcp_bucket_name, settings.staging_bucket))),
        # cloudbuild.yaml's dead-letter step has no local counterpart: the local cloud has no such topic.
        topics=topics if local else (*topics, DEAD_LETTER_TOPIC),
        subscriptions=() if local else (DEAD_LETTER_HOLD,),
        secrets=tuple(dict.fromkeys((*secrets, *trainer_secret_ids(settings)))),
        scheduler_jobs=schedules,
        grants=(*grants, *trainer_secrets, *caller_grants(settings)),
        custom_roles=dict(custom_roles or {}),
    )
