"""Who calls what, with which permission, granted by which role: flexrun's IAM as data.

`deploy/README.md`'s IAM section is rendered from it (`python -m deploy iam --markdown`, and the
one-time grants with `--setup`), and tests/deploy/test_iam.py holds it to the code and the build:
- every client call reachable from a function (deploy/code_scan.py) or made by the trainer needs a
  permission that a role bound to that identity contains;
- every gcloud command the build runs needs a permission the build's roles contain;
- the bindings marked BUILD are exactly the ones cloudbuild.yaml adds.
Role contents are Google's predefined roles (cloud.google.com/iam/docs/roles-permissions), listed
here only for the permissions flexrun relies on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from deploy import topology


class Identity(StrEnum):
    BUILD = "build"  # the build's own service account (gcloud builds submit --service-account)
    FUNCTIONS = "functions"  # every function runs as it (FunctionSpec.service_account)
    INVOKER = "invoker"  # the Eventarc triggers' identity
    TRAINER = "trainer"  # the Vertex AI job's custom service account
    STORAGE_AGENT = "storage-agent"  # Cloud Storage's service agent: publishes the bucket's events
    PUBSUB_AGENT = "pubsub-agent"  # Pub/Sub's service agent: dead-letters and acknowledges for it
    SINK_WRITER = "sink-writer"  # the log sink's writer identity
    OPERATOR = "operator"  # a person running flexrun's CLI: package upload, run, jobs cancel, doctor


# Members as cloudbuild.yaml's gcloud lines pass them (substitutions not yet applied); `$NAME` is a
# shell variable of the step (or of the one-time setup's script).
MEMBERS = {
    Identity.BUILD: "serviceAccount:${_BUILD_SA}@${PROJECT_ID}.iam.gserviceaccount.com",
    Identity.FUNCTIONS: "serviceAccount:${_FUNCTIONS_SA}@${PROJECT_ID}.iam.gserviceaccount.com",
    Identity.INVOKER: "serviceAccount:${_INVOKER_SA}@${PROJECT_ID}.iam.gserviceaccount.com",
    Identity.TRAINER: "serviceAccount:${_TRAINER_SA}@${PROJECT_ID}.iam.gserviceaccount.com",
    Identity.STORAGE_AGENT: "serviceAccount:$GCS_AGENT",
    Identity.PUBSUB_AGENT: "serviceAccount:service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com",
    Identity.SINK_WRITER: "$WRITER",
    Identity.OPERATOR: "${_OPERATOR}",  # user:NAME@DOMAIN or group:..., set in the setup script
}
JOB_SUBMITTER = "projects/${PROJECT_ID}/roles/flexrunJobSubmitter"
INVOKER_GRANTER = "projects/${PROJECT_ID}/roles/flexrunInvokerGranter"
OPERATOR_ROLE = "projects/${PROJECT_ID}/roles/flexrunOperator"
CUSTOM_ROLES = {
    JOB_SUBMITTER: ("aiplatform.customJobs.create", "aiplatform.customJobs.get", "aiplatform.customJobs.list"),
    # What `gcloud functions add-invoker-policy-binding` needs on a 2nd gen function's Cloud Run service,
    # and nothing else: roles/run.admin would also let the build delete services.
    INVOKER_GRANTER: ("run.services.getIamPolicy", "run.services.setIamPolicy"),
    # `flexrun jobs list|cancel`, `flexrun run --wait`, `flexrun doctor`'s quota read: no job creation
    # (only submit-run creates jobs), so not roles/aiplatform.user.
    OPERATOR_ROLE: (
        "aiplatform.customJobs.get", "aiplatform.customJobs.list", "aiplatform.customJobs.cancel",
        "cloudquotas.quotas.get",
    ),
}  # fmt: skip
OBJECTS = ("storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.list")
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "roles/storage.objectUser": frozenset(OBJECTS + ("storage.objects.update",)),
    "roles/storage.objectViewer": frozenset({"storage.objects.get", "storage.objects.list"}),
    "roles/pubsub.publisher": frozenset({"pubsub.topics.publish"}),
    "roles/pubsub.subscriber": frozenset({"pubsub.subscriptions.consume", "pubsub.topics.attachSubscription"}),
    "roles/pubsub.admin": frozenset(
        {f"pubsub.topics.{v}" for v in ("create", "get", "getIamPolicy", "setIamPolicy", "attachSubscription")}
        | {f"pubsub.subscriptions.{v}" for v in ("create", "get", "update", "getIamPolicy", "setIamPolicy")}
    ),
    "roles/secretmanager.secretAccessor": frozenset({"secretmanager.versions.access"}),
    "roles/iam.serviceAccountUser": frozenset({"iam.serviceAccounts.actAs"}),
    "roles/run.invoker": frozenset({"run.routes.invoke"}),
    "roles/eventarc.eventReceiver": frozenset({"eventarc.events.receiveEvent"}),
    "roles/eventarc.viewer": frozenset({"eventarc.triggers.get"}),
    "roles/cloudfunctions.developer": frozenset(
        {f"cloudfunctions.functions.{v}" for v in ("create", "update", "get", "sourceCodeSet")}
    ),
    "roles/cloudscheduler.admin": frozenset({f"cloudscheduler.jobs.{v}" for v in ("create", "get", "update")}),
    "roles/logging.configWriter": frozenset({f"logging.sinks.{v}" for v in ("create", "get", "update")}),
    "roles/logging.logWriter": frozenset({"logging.logEntries.create"}),
    "roles/cloudquotas.viewer": frozenset({"cloudquotas.quotas.get"}),
    "roles/artifactregistry.admin": frozenset(
        {f"artifactregistry.repositories.{v}" for v in ("create", "get", "uploadArtifacts", "downloadArtifacts")}
    ),
    **{role: frozenset(permissions) for role, permissions in CUSTOM_ROLES.items()},
}


class By(StrEnum):
    BUILD = "cloudbuild.yaml"  # an idempotent add on every build
    SETUP = "one-time setup"  # deploy/README.md, `python -m deploy iam --setup`


@dataclass(frozen=True)
class Binding:
    identity: Identity
    role: str
    on: str  # project | bucket | secret:NAME | topic:NAME | function:NAME | sa:ACCOUNT | subscription:triggers
    by: By
    why: str
    prefixes: tuple[str, ...] = ()  # bucket bindings: an IAM condition on these object prefixes


@dataclass(frozen=True)
class Call:
    """One kind of API call an identity makes, the permission it needs and the role that grants it."""

    identity: Identity
    call: str
    permission: str
    role: str


F, T, B = Identity.FUNCTIONS, Identity.TRAINER, Identity.BUILD
SECRETS = ("flexrun-mongodb-url", "flexrun-supabase-url", "flexrun-supabase-key", "flexrun-slack-webhook-url")
BINDINGS: tuple[Binding, ...] = (
    Binding(F, "roles/storage.objectUser", "bucket", By.SETUP, "packages, manifest, deployable copies, quarantine"),
    Binding(F, JOB_SUBMITTER, "project", By.SETUP, "create, read and find CustomJobs"),
    Binding(F, "roles/iam.serviceAccountUser", "sa:${_TRAINER_SA}", By.SETUP, "a job runs as the trainer account"),
    Binding(F, "roles/cloudquotas.viewer", "project", By.SETUP, "the reconciler's quota snapshot"),
    Binding(F, "roles/pubsub.publisher", f"topic:{topology.RUN_REQUESTS_TOPIC}", By.BUILD, "a fallback's next attempt"),
    *(Binding(F, "roles/secretmanager.secretAccessor", f"secret:{s}", By.SETUP, "--set-secrets") for s in SECRETS),
    *(
        Binding(Identity.INVOKER, "roles/run.invoker", f"function:{name}", By.BUILD, "Eventarc calls the function")
        for name in ("validate-package", "submit-run", "job-state", "reconcile-runs")
    ),
    Binding(Identity.INVOKER, "roles/eventarc.eventReceiver", "project", By.SETUP, "the storage trigger's events"),
    Binding(
        T,
        "roles/storage.objectViewer",
        "bucket",
        By.SETUP,
        "every object a job is given: the deployable copy it runs, uploads, training CSVs (--data gs://B/data/…)",
        prefixes=("packages/", "deployable/", "data/"),
    ),
    Binding(T, "roles/storage.objectUser", "bucket", By.SETUP, "model, metrics, predictions", prefixes=("runs/",)),
    Binding(T, "roles/secretmanager.secretAccessor", "secret:flexrun-mongodb-url", By.SETUP, "training data"),
    Binding(Identity.STORAGE_AGENT, "roles/pubsub.publisher", "project", By.SETUP, "storage triggers (Eventarc)"),
    Binding(
        Identity.PUBSUB_AGENT, "roles/pubsub.publisher", f"topic:{topology.DEAD_LETTER_TOPIC}", By.BUILD, "dead letters"
    ),
    Binding(Identity.PUBSUB_AGENT, "roles/pubsub.subscriber", "subscription:triggers", By.BUILD, "dead letters"),
    Binding(Identity.SINK_WRITER, "roles/pubsub.publisher", f"topic:{topology.JOB_EVENTS_TOPIC}", By.BUILD, "job logs"),
    Binding(B, "roles/cloudfunctions.developer", "project", By.SETUP, "deploy the functions"),
    Binding(B, INVOKER_GRANTER, "project", By.SETUP, "grant each function's invoker"),
    Binding(B, "roles/iam.serviceAccountUser", "sa:${_FUNCTIONS_SA}", By.SETUP, "deploy functions that run as it"),
    Binding(B, "roles/iam.serviceAccountUser", "sa:${_INVOKER_SA}", By.SETUP, "triggers that run as it"),
    Binding(B, "roles/pubsub.admin", "project", By.SETUP, "topics, dead-letter settings, topic/subscription IAM"),
    Binding(B, "roles/eventarc.viewer", "project", By.SETUP, "find each trigger's subscription"),
    Binding(B, "roles/cloudscheduler.admin", "project", By.SETUP, "the nightly and reconcile jobs"),
    Binding(B, "roles/logging.configWriter", "project", By.SETUP, "the log sink"),
    Binding(B, "roles/logging.logWriter", "project", By.SETUP, "the build's own log (CLOUD_LOGGING_ONLY)"),
    Binding(B, "roles/storage.objectUser", "bucket", By.SETUP, "upload the trainer (--no-clobber reads first)",
            prefixes=("packages/",)),
    Binding(Identity.OPERATOR, "roles/storage.objectUser", "bucket", By.SETUP,
            "`flexrun package upload` and `pin`/`unpin` (the manifest), run outputs"),
    # On the project: the setup runs before the first build creates run-requests.
    Binding(Identity.OPERATOR, "roles/pubsub.publisher", "project", By.SETUP, "`flexrun run` publishes run-requests"),
    Binding(Identity.OPERATOR, OPERATOR_ROLE, "project", By.SETUP, "`flexrun jobs`, `flexrun doctor`"),
    Binding(B, "roles/artifactregistry.admin", "project", By.SETUP,
            "the trainer image's repository (created by the first build) and its pushes"),
)  # fmt: skip

# The calls each identity makes. The functions' and the trainer's are checked against their code.
CALLS: tuple[Call, ...] = (
    Call(F, "read a package, the manifest, trainer outputs (`open`, `download_as_bytes`, `exists`)",
         "storage.objects.get", "roles/storage.objectUser"),
    Call(F, "write the manifest (`upload_from_string`, replaces it), copy to deployable/ (`copy_blob`)",
         "storage.objects.create", "roles/storage.objectUser"),
    Call(F, "replace the manifest, quarantine or withdraw a package (`delete`)", "storage.objects.delete",
         "roles/storage.objectUser"),
    Call(F, "`create_custom_job`", "aiplatform.customJobs.create", JOB_SUBMITTER),
    Call(F, "`create_custom_job` with the trainer as the job's account", "iam.serviceAccounts.actAs",
         "roles/iam.serviceAccountUser"),
    Call(F, "`get_custom_job`", "aiplatform.customJobs.get", JOB_SUBMITTER),
    Call(F, "`list_custom_jobs` (a job already created for a run_key)", "aiplatform.customJobs.list", JOB_SUBMITTER),
    Call(F, "`publish` (a fallback's next attempt)", "pubsub.topics.publish", "roles/pubsub.publisher"),
    Call(F, "`list_quota_infos` (quota snapshot)", "cloudquotas.quotas.get", "roles/cloudquotas.viewer"),
    Call(F, "resolve `--set-secrets` at instance start", "secretmanager.versions.access",
         "roles/secretmanager.secretAccessor"),
    Call(Identity.INVOKER, "Eventarc delivers to the function", "run.routes.invoke", "roles/run.invoker"),
    Call(Identity.INVOKER, "receive the bucket's events", "eventarc.events.receiveEvent",
         "roles/eventarc.eventReceiver"),
    Call(T, "install the package it is given (`deployable/`, `packages/`); read a gs:// training CSV under `data/` "
         "(`download_as_bytes`)", "storage.objects.get", "roles/storage.objectViewer"),
    Call(T, "write outputs under runs/ (`upload_from_filename`, `upload_from_string`)", "storage.objects.create",
         "roles/storage.objectUser"),
    Call(T, "replace or remove its outputs (`delete`)", "storage.objects.delete", "roles/storage.objectUser"),
    Call(T, "`access_secret_version` (FLEXRUN_TRAINER_SECRETS)", "secretmanager.versions.access",
         "roles/secretmanager.secretAccessor"),
    Call(Identity.STORAGE_AGENT, "publish the bucket's notifications", "pubsub.topics.publish",
         "roles/pubsub.publisher"),
    Call(Identity.PUBSUB_AGENT, "forward a dead letter", "pubsub.topics.publish", "roles/pubsub.publisher"),
    Call(Identity.PUBSUB_AGENT, "acknowledge the dead-lettered message", "pubsub.subscriptions.consume",
         "roles/pubsub.subscriber"),
    Call(Identity.SINK_WRITER, "publish job log entries", "pubsub.topics.publish", "roles/pubsub.publisher"),
    Call(Identity.OPERATOR, "`flexrun package upload` (`upload_from_file`, create-only)", "storage.objects.create",
         "roles/storage.objectUser"),
    Call(Identity.OPERATOR, "`flexrun package` reads the manifest", "storage.objects.get", "roles/storage.objectUser"),
    Call(Identity.OPERATOR, "`upload_from_file` may replace an object", "storage.objects.delete",
         "roles/storage.objectUser"),
    Call(Identity.OPERATOR, "`flexrun run` (`publish`)", "pubsub.topics.publish", "roles/pubsub.publisher"),
    Call(Identity.OPERATOR, "`flexrun jobs list`, `run --wait` (`list_custom_jobs`)", "aiplatform.customJobs.list",
         OPERATOR_ROLE),
    Call(Identity.OPERATOR, "`flexrun jobs cancel` (`cancel_custom_job`)", "aiplatform.customJobs.cancel",
         OPERATOR_ROLE),
    Call(Identity.OPERATOR, "`flexrun doctor` (`list_quota_infos`)", "cloudquotas.quotas.get", OPERATOR_ROLE),
    Call(B, "`docker push` of the trainer image", "artifactregistry.repositories.uploadArtifacts",
         "roles/artifactregistry.admin"),
)  # fmt: skip

# Client methods (google-cloud-storage, aiplatform_v1, pubsub, secretmanager, cloudquotas) → permissions.
CLIENT_METHODS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("open", "download_as_bytes", "download_as_text", "download_to_filename"), ("storage.objects.get",)
    ),
    **dict.fromkeys(("exists", "reload", "get_blob"), ("storage.objects.get",)),
    # An upload may replace an object: replacing needs delete as well as create.
    **dict.fromkeys(
        ("upload_from_string", "upload_from_filename", "upload_from_file"),
        ("storage.objects.create", "storage.objects.delete"),
    ),
    **dict.fromkeys(("copy_blob", "rewrite"), ("storage.objects.get", "storage.objects.create")),
    **dict.fromkeys(("delete", "delete_blob"), ("storage.objects.delete",)),
    "list_blobs": ("storage.objects.list",),
    "create_custom_job": ("aiplatform.customJobs.create", "iam.serviceAccounts.actAs"),
    "get_custom_job": ("aiplatform.customJobs.get",),
    "list_custom_jobs": ("aiplatform.customJobs.list",),
    "cancel_custom_job": ("aiplatform.customJobs.cancel",),
    "publish": ("pubsub.topics.publish",),
    "access_secret_version": ("secretmanager.versions.access",),
    "list_quota_infos": ("cloudquotas.quotas.get",),
}
# Calls of those names on objects that are no cloud client: (file, receiver) → what it is.
NOT_CLIENT_CALLS: dict[tuple[str, str], str] = {
    ("trainer/src/flexrun_trainer/pipeline.py", "out"): "the trainer's output directory publishes its files (_SUCCESS)",
}
# gcloud commands the build runs → the permissions each needs.
GCLOUD_PERMISSIONS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("functions", "deploy"): ("cloudfunctions.functions.create", "cloudfunctions.functions.update",
                              "cloudfunctions.functions.sourceCodeSet", "iam.serviceAccounts.actAs"),
    ("functions", "describe"): ("cloudfunctions.functions.get",),
    ("functions", "add-invoker-policy-binding"): ("run.services.getIamPolicy", "run.services.setIamPolicy"),
    ("eventarc", "triggers", "describe"): ("eventarc.triggers.get",),
    ("pubsub", "topics", "describe"): ("pubsub.topics.get",),
    ("pubsub", "topics", "create"): ("pubsub.topics.create",),
    ("pubsub", "topics", "add-iam-policy-binding"): ("pubsub.topics.getIamPolicy", "pubsub.topics.setIamPolicy"),
    ("pubsub", "subscriptions", "describe"): ("pubsub.subscriptions.get",),
    ("pubsub", "subscriptions", "create"): ("pubsub.subscriptions.create", "pubsub.topics.attachSubscription"),
    ("pubsub", "subscriptions", "update"): ("pubsub.subscriptions.update",),
    ("pubsub", "subscriptions", "add-iam-policy-binding"): ("pubsub.subscriptions.getIamPolicy",
                                                            "pubsub.subscriptions.setIamPolicy"),
    ("scheduler", "jobs", "describe"): ("cloudscheduler.jobs.get",),
    ("scheduler", "jobs", "create"): ("cloudscheduler.jobs.create",),
    ("scheduler", "jobs", "update"): ("cloudscheduler.jobs.update",),
    ("logging", "sinks", "describe"): ("logging.sinks.get",),
    ("logging", "sinks", "create"): ("logging.sinks.create",),
    ("logging", "sinks", "update"): ("logging.sinks.update",),
    ("storage", "cp"): ("storage.objects.create", "storage.objects.get"),
    ("artifacts", "repositories", "describe"): ("artifactregistry.repositories.get",),
    ("artifacts", "repositories", "create"): ("artifactregistry.repositories.create",),
}  # fmt: skip


def roles_of(identity: Identity) -> set[str]:
    return {binding.role for binding in BINDINGS if binding.identity is identity}


def permissions_of(identity: Identity) -> set[str]:
    return {p for role in roles_of(identity) for p in ROLE_PERMISSIONS[role]}


def gcloud_permissions(words: tuple[str, ...]) -> tuple[str, ...] | None:
    """The permissions of the longest known command prefix of `gcloud WORDS...`; None if unknown."""
    for length in range(len(words), 0, -1):
        if words[:length] in GCLOUD_PERMISSIONS:
            return GCLOUD_PERMISSIONS[words[:length]]
    return None
