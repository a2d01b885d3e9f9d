"""What a deployed flexrun needs from its project, as data: APIs, resources, and who needs which permission.

The one place the doctor's expectations live (deploy/README.md's IAM table, in checkable form): the
local cloud's stand-in is seeded from it too, so a fresh local cloud passes the doctor. Each grant
names the permissions `testIamPermissions` is asked about and the role whose binding fixes it.
Names default to cloudbuild.yaml's substitutions (_FUNCTIONS_SA, _INVOKER_SA, _TRAINER_SA, secrets).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.config.settings import Settings

# The APIs flexrun's functions, build and doctor call (deploy/README.md's `gcloud services enable`).
APIS: tuple[tuple[str, str], ...] = (
    ("aiplatform.googleapis.com", "Vertex AI CustomJobs"),
    ("storage.googleapis.com", "packages, manifest, job outputs"),
    ("pubsub.googleapis.com", "run requests and job log events"),
    ("cloudfunctions.googleapis.com", "the three functions"),
    ("run.googleapis.com", "2nd gen functions run on Cloud Run"),
    ("eventarc.googleapis.com", "the functions' triggers"),
    ("cloudbuild.googleapis.com", "the deploy build"),
    ("artifactregistry.googleapis.com", "the functions' images"),
    ("secretmanager.googleapis.com", "MongoDB URL, Slack webhook, trainer secrets"),
    ("cloudscheduler.googleapis.com", "the nightly run"),
    ("logging.googleapis.com", "the job-events log sink"),
    ("cloudquotas.googleapis.com", "the quota snapshot and this doctor"),
    ("iamcredentials.googleapis.com", "this doctor tests each deployed identity as itself"),
)
# cloudbuild.yaml's names (deploy/topology.py holds the same for the local cloud; shared/ cannot import deploy/).
RUN_REQUESTS_TOPIC = "run-requests"
JOB_EVENTS_TOPIC = "job-events"
DEPLOYED_SECRETS = ("flexrun-mongodb-url", "flexrun-slack-webhook-url")  # _MONGODB_SECRET, _SLACK_SECRET
DEAD_LETTER_TOPIC = "flexrun-dead-letter"
DEAD_LETTER_HOLD = "flexrun-dead-letter-hold"
JOB_SUBMITTER_ROLE = "projects/{project}/roles/flexrunJobSubmitter"  # deploy/README.md's custom role


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
    """The Cloud Scheduler job cloudbuild.yaml creates from deploy/schedule.json."""

    name: str  # the schedule's name (the `schedule` attribute); the job id is flexrun-NAME
    cron: str
    time_zone: str
    body: str  # the run message, JSON

    @property
    def job_id(self) -> str:
        return f"flexrun-{self.name}"


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


def _account(name: str, project: str) -> str:
    return name if "@" in name else f"{name}@{project}.iam.gserviceaccount.com"


def trainer_secret_ids(settings: Settings) -> tuple[str, ...]:
    """The secret ids FLEXRUN_TRAINER_SECRETS names (`ENV=SECRET[:VERSION]` or a full version name)."""
    ids = []
    for item in filter(None, (part.strip() for part in settings.flexrun_trainer_secrets.split(","))):
        secret = item.partition("=")[2]
        ids.append(secret.split("/")[3] if secret.startswith("projects/") else secret.partition(":")[0])
    return tuple(ids)


def deployment(
    settings: Settings,
    *,
    schedule: ScheduledJob,
    local: bool,
    functions_account: str = "flexrun-functions",
    invoker_account: str = "flexrun-invoker",
) -> Deployment:
    project = settings.gcp_project_id
    identities = {
        Who.FUNCTIONS: _account(functions_account, project),
        Who.INVOKER: _account(invoker_account, project),
        Who.TRAINER: settings.vertex_ai_service_account or _account("flexrun-trainer", project),
    }
    package, staging = settings.gcp_bucket_name, settings.staging_bucket
    trainer_secrets = trainer_secret_ids(settings)
    runs_topic = RUN_REQUESTS_TOPIC
    grants = [
        Grant(
            Who.FUNCTIONS,
            Kind.PROJECT,
            project,
            ("aiplatform.customJobs.create", "aiplatform.customJobs.get", "aiplatform.customJobs.list"),
            JOB_SUBMITTER_ROLE.format(project=project),
            "submit-run creates jobs, job-state reads them",
        ),
        Grant(
            Who.FUNCTIONS, Kind.PROJECT, project, ("cloudquotas.quotas.get",), "roles/cloudquotas.viewer",
            "the reconciler's quota snapshot",
        ),
        Grant(
            Who.FUNCTIONS,
            Kind.BUCKET,
            package,
            ("storage.objects.get", "storage.objects.create", "storage.objects.delete", "storage.objects.list"),
            "roles/storage.objectUser",
            "packages, manifest, quarantine, quota snapshot",
        ),
        Grant(
            Who.FUNCTIONS, Kind.TOPIC, runs_topic, ("pubsub.topics.publish",), "roles/pubsub.publisher",
            "job-state hands a fallback's next attempt to submit-run",
        ),
        *(
            Grant(
                Who.FUNCTIONS, Kind.SECRET, secret, ("secretmanager.versions.access",),
                "roles/secretmanager.secretAccessor", "--set-secrets at instance start",
            )
            for secret in DEPLOYED_SECRETS
        ),
        Grant(
            Who.INVOKER, Kind.PROJECT, project, ("eventarc.events.receiveEvent",), "roles/eventarc.eventReceiver",
            "Eventarc delivers events as this identity",
        ),
        *(
            Grant(
                Who.TRAINER, Kind.SECRET, secret, ("secretmanager.versions.access",),
                "roles/secretmanager.secretAccessor", "the trainer reads it at start",
            )
            for secret in trainer_secrets
        ),
        Grant(
            Who.YOU, Kind.TOPIC, runs_topic, ("pubsub.topics.publish",), "roles/pubsub.publisher", "`flexrun run`",
        ),
        Grant(
            Who.YOU, Kind.BUCKET, package, ("storage.objects.create", "storage.objects.get"),
            "roles/storage.objectUser", "`flexrun package upload`",
        ),
    ]  # fmt: skip
    if staging != package:
        grants.insert(
            3,
            Grant(
                Who.FUNCTIONS, Kind.BUCKET, staging, ("storage.objects.get", "storage.objects.list"),
                "roles/storage.objectUser", "job-state reads the trainer's metrics",
            ),
        )  # fmt: skip
    topics = (runs_topic, JOB_EVENTS_TOPIC)
    return Deployment(
        project=project,
        region=settings.gcp_region,
        identities=identities,
        apis=APIS,
        buckets=tuple(dict.fromkeys((package, staging))),
        # cloudbuild.yaml's dead-letter step has no local counterpart: the local cloud has no such topic.
        topics=topics if local else (*topics, DEAD_LETTER_TOPIC),
        subscriptions=() if local else (DEAD_LETTER_HOLD,),
        secrets=tuple(dict.fromkeys((*DEPLOYED_SECRETS, *trainer_secrets))),
        scheduler_jobs=(schedule,),
        grants=tuple(grants),
    )
