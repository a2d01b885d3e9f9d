"""Production client libraries pointed explicitly at the local emulators.

The libraries also honour STORAGE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST, but reading process-wide
environment variables would tie a test process to one cloud; these helpers take the endpoint instead.
Imports are lazy because each client library costs ~0.7 s to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deploy.topology import PROJECT_ID

if TYPE_CHECKING:
    from google.cloud import pubsub_v1, storage


def storage_client(endpoint: str, project: str = PROJECT_ID) -> storage.Client:
    """A google-cloud-storage client for fake-gcs-server at `endpoint` (http://127.0.0.1:P)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoint},
    )


def _channel(emulator_host: str) -> Any:
    import grpc

    return grpc.insecure_channel(emulator_host)  # the emulator speaks plaintext gRPC


def publisher_client(emulator_host: str) -> pubsub_v1.PublisherClient:
    """A PublisherClient for the Pub/Sub emulator at `emulator_host` (127.0.0.1:P)."""
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

    return pubsub_v1.PublisherClient(transport=PublisherGrpcTransport(channel=_channel(emulator_host)))


def subscriber_client(emulator_host: str) -> pubsub_v1.SubscriberClient:
    """A SubscriberClient for the Pub/Sub emulator at `emulator_host` (127.0.0.1:P)."""
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    return pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=_channel(emulator_host)))
