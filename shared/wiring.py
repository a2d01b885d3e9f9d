"""Builds the clients a handler's core needs from the settings, once per function instance."""

from __future__ import annotations

import functools
from typing import Any

from shared import clients
from shared.errors import ConfigurationError
from shared.manifest import ManifestStore
from shared.notifier import LogOnlyNotifier, Notifier, SlackNotifier
from shared.settings import Settings
from shared.store import MongoRunStore, RunStore


def package_bucket(settings: Settings) -> Any:
    return clients.storage_client(settings.gcp_project_id).bucket(settings.gcp_bucket_name)


def manifest_store(settings: Settings) -> ManifestStore:
    return ManifestStore(package_bucket(settings), settings.flexrun_manifest_object)


def storage(settings: Settings) -> Any:
    return clients.storage_client(settings.gcp_project_id)


@functools.lru_cache(maxsize=2)
def _run_store(url: str) -> MongoRunStore:
    return MongoRunStore(clients.mongo_database(url))


def run_store(settings: Settings) -> RunStore:
    if settings.mongodb_url is None:
        raise ConfigurationError("missing required setting(s): MONGODB_URL (the run store)")
    return _run_store(settings.mongodb_url.get_secret_value())


def notifier(settings: Settings) -> Notifier:
    if settings.slack_webhook_url is None:
        return LogOnlyNotifier()
    return _slack(settings.slack_webhook_url.get_secret_value())


@functools.lru_cache(maxsize=2)
def _slack(url: str) -> SlackNotifier:
    return SlackNotifier(url)


def jobs_for_region(settings: Settings) -> Any:
    """A function region → JobServiceClient: each region has its own regional endpoint."""

    def client_for(region: str) -> Any:
        endpoint = settings.vertex_ai_api_endpoint or f"{region}-aiplatform.googleapis.com"
        return clients.job_service_client(endpoint)

    return client_for
