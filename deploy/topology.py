"""What the local cloud wires together: topics, subscriptions, buckets and the three functions.

The same names are what `cloudbuild.yaml` creates in production, so a local run exercises the
deployed wiring, not a simplified one.
"""

from __future__ import annotations

from dataclasses import dataclass

PROJECT_ID = "local-project"
REGION = "us-central1"
PACKAGE_BUCKET = "flexrun-packages"
STAGING_BUCKET = "flexrun-staging"
# The local Supabase's service key: any non-empty string works with supabase-py; not a secret.
SUPABASE_KEY = "local-service-role-key"

PACKAGE_EVENTS_TOPIC = "package-events"  # GCS object notifications (JSON_API_V1) of PACKAGE_BUCKET
RUN_REQUESTS_TOPIC = "run-requests"  # Cloud Scheduler / people publish run messages here
JOB_EVENTS_TOPIC = "job-events"  # the Cloud Logging sink of Vertex AI job logs publishes here

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class FunctionSpec:
    """One deployed Cloud Function: where its code is and which trigger feeds it."""

    name: str
    source: str  # path relative to the repository root, as `functions-framework --source`
    target: str  # the decorated handler
    topic: str  # the Pub/Sub topic its Eventarc trigger reads
    event_type: str  # the CloudEvent type Eventarc delivers

    @property
    def subscription(self) -> str:
        return f"eventarc-{self.name}"


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="validate-package",
        source="functions/validate_package.py",
        target="on_package_uploaded",
        topic=PACKAGE_EVENTS_TOPIC,
        event_type=STORAGE_FINALIZED,
    ),
    FunctionSpec(
        name="submit-run",
        source="functions/submit_run.py",
        target="on_run_requested",
        topic=RUN_REQUESTS_TOPIC,
        event_type=PUBSUB_PUBLISHED,
    ),
    FunctionSpec(
        name="job-state",
        source="functions/job_state.py",
        target="on_job_state_changed",
        topic=JOB_EVENTS_TOPIC,
        event_type=PUBSUB_PUBLISHED,
    ),
)
