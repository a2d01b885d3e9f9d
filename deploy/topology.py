"""The names the local cloud and the deploy share: project, buckets, topics, event types.

`cloudbuild.yaml` creates the same topics in production and the local cloud creates them locally, so
a local run exercises the deployed wiring, not a simplified one. Which function reads which topic is
declared in `deploy/spec.py`.
"""

from __future__ import annotations

PROJECT_ID = "local-project"
REGION = "us-central1"
PACKAGE_BUCKET = "flexrun-packages"
STAGING_BUCKET = "flexrun-staging"
# The local Supabase's service key: any non-empty string works with supabase-py; not a secret.
SUPABASE_KEY = "local-service-role-key"

PACKAGE_EVENTS_TOPIC = "package-events"  # GCS object notifications (JSON_API_V1) of PACKAGE_BUCKET
RUN_REQUESTS_TOPIC = "run-requests"  # Cloud Scheduler / people publish run messages here
JOB_EVENTS_TOPIC = "job-events"  # the Cloud Logging sink of Vertex AI job logs publishes here
RECONCILE_REQUESTS_TOPIC = "reconcile-requests"  # Cloud Scheduler's reconcile ticks
DEAD_LETTER_TOPIC = "flexrun-dead-letter"  # events that failed _MAX_DELIVERY_ATTEMPTS times
# The topics the local cloud creates; production has no PACKAGE_EVENTS_TOPIC (Eventarc's storage
# trigger makes its own), the build creates the others.
TOPICS = (PACKAGE_EVENTS_TOPIC, RUN_REQUESTS_TOPIC, JOB_EVENTS_TOPIC, RECONCILE_REQUESTS_TOPIC)

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
