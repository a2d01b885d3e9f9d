"""Builds the clients a handler's core needs from the settings, once per function instance.

What a function may not need is imported where it is built (validate-package has no run store, job-state
reads no manifest, submit-run notifies only an attempt that ends without a job; Supabase, the mirror and
the Pub/Sub publisher are optional): a first event pays only for its own. What every real event of a
function needs, its module preloads with `main`, before gunicorn forks (shared/config/startup.py).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from shared.cloud import clients
from shared.config.settings import Settings
from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from shared.cloud.publisher import TopicPublisher
    from shared.notify.slack import Notifier, SlackNotifier
    from shared.packages.manifest import ManifestStore
    from shared.stores.base import RunStore
    from shared.stores.mongo_store import MongoRunStore
    from shared.stores.supabase_store import SupabaseRunStore

# What every real event of submit-run and job-state uses: Cloud Storage, Vertex AI and the run in MongoDB
# (the primary store). Their modules preload these with `main`, before gunicorn forks, rather than the
# worker importing them on its first event (shared/config/startup.py).
RUN_EVENT_CLIENTS = ("pymongo", "shared.stores.mongo_store", "shared.cloud.gcs", "shared.jobs.vertex_rest")


def package_bucket(settings: Settings) -> Any:
    return clients.storage_client(settings.gcp_project_id).bucket(settings.gcp_bucket_name)


def manifest_store(settings: Settings) -> ManifestStore:
    from shared.packages.manifest import ManifestStore  # job-state reads no manifest

    return ManifestStore(package_bucket(settings), settings.flexrun_manifest_object)


def storage(settings: Settings) -> Any:
    return clients.storage_client(settings.gcp_project_id)


@functools.lru_cache(maxsize=2)
def _mongo_store(url: SecretStr) -> MongoRunStore:
    from shared.stores.mongo_store import MongoRunStore

    return MongoRunStore(clients.mongo_database(url))


def supabase_client(url: str, key: str) -> Any:
    """`supabase.create_client` with our own HTTP client: a hung request must not hold an event for minutes."""
    import httpx
    from supabase import ClientOptions, create_client  # imported lazily: about a second of cold start

    options = ClientOptions(httpx_client=httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0)))
    return create_client(url, key, options=options)


@functools.lru_cache(maxsize=2)
def _supabase_store(url: str, key: SecretStr) -> SupabaseRunStore:
    from shared.stores.supabase_store import SupabaseRunStore

    return SupabaseRunStore(supabase_client(url, key.get_secret_value()))


def run_store(settings: Settings) -> RunStore:
    """MongoDB, Supabase, or both (MongoDB decides, Supabase mirrors): whichever is configured."""
    if bool(settings.supabase_url) != bool(settings.supabase_key):
        raise ConfigurationError("SUPABASE_URL and SUPABASE_KEY must be set together")
    mongo = _mongo_store(settings.mongodb_url) if settings.mongodb_url else None
    supabase = (
        _supabase_store(settings.supabase_url, settings.supabase_key)
        if settings.supabase_url and settings.supabase_key
        else None
    )
    if mongo and supabase:
        from shared.stores.mirrored_store import MirroredRunStore

        return MirroredRunStore(mongo, [supabase])
    if mongo or supabase:
        return mongo or supabase  # type: ignore[return-value]
    raise ConfigurationError("missing required setting(s): MONGODB_URL and/or SUPABASE_URL + SUPABASE_KEY")


def notifier(settings: Settings) -> Notifier:
    from shared.notify.slack import LogOnlyNotifier  # submit-run notifies only when an attempt ends without a job

    if settings.slack_webhook_url is None:
        return LogOnlyNotifier()
    return _slack(settings.slack_webhook_url)


@functools.lru_cache(maxsize=2)
def _slack(url: SecretStr) -> SlackNotifier:
    from shared.notify.slack import SlackNotifier

    return SlackNotifier(url)


def jobs_for_region(settings: Settings) -> Any:
    """A function region → JobServiceClient: each region has its own regional endpoint."""

    def client_for(region: str) -> Any:
        endpoint = settings.vertex_ai_api_endpoint or f"{region}-aiplatform.googleapis.com"
        return clients.job_service_client(endpoint)

    return client_for


def run_requests_publisher(settings: Settings) -> TopicPublisher:
    """The run-requests topic, where job-state hands a capacity fallback's next attempt to submit-run."""
    from shared.cloud.publisher import TopicPublisher

    topic = f"projects/{settings.gcp_project_id}/topics/{settings.flexrun_run_requests_topic}"
    return TopicPublisher(clients.publisher_client(), topic)


def quota_snapshot(settings: Settings) -> Any:
    """The stored quota snapshot (None: none yet, unreadable or malformed); read when a run is planned."""
    from shared.quotas.snapshot import read_snapshot

    return read_snapshot(package_bucket(settings), settings.flexrun_quota_snapshot_object)


def refresh_quota_snapshot(settings: Settings) -> Any:
    """The reconcile tick's quota step (shared/quotas/refresh.py) with its clients."""
    from shared.quotas.refresh import refresh_quota_snapshot as refresh

    quotas = clients.cloud_quotas_client(settings.flexrun_project_apis_endpoint)
    return refresh(settings=settings, quotas=quotas, bucket=package_bucket(settings))
