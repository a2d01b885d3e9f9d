"""Cloud clients, created on first use and reused for every event a function instance handles.

Heavy SDKs are imported inside the factories so a function's cold start pays only for what it uses.
A `http://` endpoint or an emulator variable selects a local stand-in, with anonymous credentials;
the client classes and calls are the production ones either way.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from google.cloud import pubsub_v1

    from shared.cloud.gcs import StorageClient
    from shared.jobs.vertex_rest import JobServiceRest


def _anonymous() -> Any:
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()


@functools.lru_cache(maxsize=4)
def storage_client(project: str) -> StorageClient:
    """Cloud Storage's JSON API on the standard library, not google-cloud-storage: see shared/cloud/gcs.py.

    STORAGE_EMULATOR_HOST (the local stand-in) gets no credentials, as the SDK did; else ADC."""
    from shared.cloud.gcs import DEFAULT_ENDPOINT, StorageClient, emulator_endpoint

    emulator = emulator_endpoint()
    if emulator:
        return StorageClient(project, emulator, anonymous=True)
    return StorageClient(project, DEFAULT_ENDPOINT)


@functools.lru_cache(maxsize=4)
def job_service_client(endpoint: str) -> JobServiceRest:
    """Vertex AI's JobService over REST + JSON, not aiplatform_v1's client: see shared/jobs/vertex_rest.py.

    An `http://` endpoint (the local stand-in) gets no credentials, as the other local clients."""
    from shared.jobs.vertex_rest import JobServiceRest

    return JobServiceRest(endpoint)


@functools.lru_cache(maxsize=1)
def publisher_client() -> pubsub_v1.PublisherClient:
    from google.cloud import pubsub_v1

    # PUBSUB_EMULATOR_HOST (read by the client itself) selects the local emulator, no credentials.
    return pubsub_v1.PublisherClient()


@functools.lru_cache(maxsize=2)
def cloud_quotas_client(endpoint: str | None) -> Any:
    """Cloud Quotas (the reconciler's quota snapshot); `http://` = the local project-APIs stand-in."""
    from google.cloud import cloudquotas_v1

    if endpoint and endpoint.startswith("http://"):
        options = {"api_endpoint": endpoint}
        return cloudquotas_v1.CloudQuotasClient(credentials=_anonymous(), transport="rest", client_options=options)
    return cloudquotas_v1.CloudQuotasClient(transport="rest")


@functools.lru_cache(maxsize=4)
def mongo_database(url: str | SecretStr) -> Any:
    import pymongo

    if isinstance(url, SecretStr):
        url = url.get_secret_value()
    client: Any = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, tz_aware=True)
    return client.get_default_database(default="flexrun")
