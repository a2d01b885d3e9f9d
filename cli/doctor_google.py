"""The doctor's probes through Google's own client libraries (REST transport), imported only when used.

`testIamPermissions` answers for the *caller*, so each deployed identity is tested as itself: the
caller's credentials are exchanged for the service account's (IAM Credentials generateAccessToken,
which needs roles/iam.serviceAccountTokenCreator on it). With FLEXRUN_PROJECT_APIS_ENDPOINT=http://...
every project-level client talks to the local stand-in with a local token; buckets, topics and
subscriptions are looked up where the functions find them (the storage and Pub/Sub emulators).
"""

from __future__ import annotations

import functools
from typing import Any

from shared.cloud import clients
from shared.config.settings import Settings
from shared.doctor import fixes
from shared.doctor.checks import ProbeError
from shared.doctor.needs import Kind
from shared.quotas.refresh import read_gpu_quotas
from shared.quotas.snapshot import QuotaSnapshot

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def _refused(exc: Exception, doing: str) -> ProbeError:
    """A failed call as a ✗ line; a disabled API (ErrorInfo reason SERVICE_DISABLED) gets its enable command."""
    message = str(getattr(exc, "message", exc)).split("\n")[0][:300]
    service = (getattr(exc, "metadata", None) or {}).get("service")
    fix = (
        fixes.enable_api(service, "PROJECT") if getattr(exc, "reason", None) == "SERVICE_DISABLED" and service else None
    )
    return ProbeError(f"{doing}: {exc.__class__.__name__}: {message}", fix)


class GoogleProbes:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.project = settings.gcp_project_id
        self.endpoint = settings.flexrun_project_apis_endpoint
        self.local = bool(self.endpoint and self.endpoint.startswith("http://"))

    # Credentials
    @functools.cached_property
    def caller(self) -> Any:
        if self.local:
            from google.oauth2.credentials import Credentials

            return Credentials(token="local-developer")  # not a token the stand-in minted: the caller
        import google.auth

        credentials, _ = google.auth.default(scopes=SCOPES)
        return credentials

    @functools.lru_cache(maxsize=8)  # noqa: B019 — one probe object per doctor run
    def credentials(self, account: str | None) -> Any:
        if account is None:
            return self.caller
        from google.auth import impersonated_credentials
        from google.auth.transport.requests import Request

        override = (
            f"{self.endpoint}/v1/projects/-/serviceAccounts/{account}:generateAccessToken" if self.local else None
        )
        credentials = impersonated_credentials.Credentials(
            source_credentials=self.caller, target_principal=account, target_scopes=SCOPES, lifetime=600,
            iam_endpoint_override=override,
        )  # fmt: skip
        try:
            credentials.refresh(Request())
        except Exception as exc:  # noqa: BLE001 — refused or unknown account: say so on the line
            raise ProbeError(
                f"cannot test as {account}: {str(exc).splitlines()[0][:200]}",
                fixes.token_creator(account, self.project),
            ) from None
        return credentials

    def _options(self, default: str | None = None) -> dict[str, Any]:
        endpoint = self.endpoint if self.local else default
        return {"client_options": {"api_endpoint": endpoint}} if endpoint else {}

    # Probes
    def gpu_quotas(self) -> QuotaSnapshot:
        from google.cloud import cloudquotas_v1

        client = cloudquotas_v1.CloudQuotasClient(credentials=self.caller, transport="rest", **self._options())
        try:
            return read_gpu_quotas(client, self.project)
        except Exception as exc:  # noqa: BLE001
            raise self._with_project(_refused(exc, "reading Cloud Quotas")) from None

    def enabled_services(self) -> set[str]:
        from google.cloud import service_usage_v1

        client = service_usage_v1.ServiceUsageClient(credentials=self.caller, transport="rest", **self._options())
        try:
            found = client.list_services(
                request={"parent": f"projects/{self.project}", "filter": "state:ENABLED", "page_size": 200}
            )
            return {service.config.name or service.name.rsplit("/", 1)[1] for service in found}
        except Exception as exc:  # noqa: BLE001
            raise self._with_project(_refused(exc, "listing enabled APIs")) from None

    def held_permissions(self, account: str | None, kind: Kind, resource: str, wanted: tuple[str, ...]) -> set[str]:
        credentials = self.credentials(account)
        try:
            return set(self._test(credentials, kind, resource, list(wanted)))
        except Exception as exc:  # noqa: BLE001
            raise self._with_project(_refused(exc, "testIamPermissions")) from None

    def _test(self, credentials: Any, kind: Kind, resource: str, wanted: list[str]) -> list[str]:
        if kind is Kind.PROJECT:
            from google.cloud import resourcemanager_v3

            projects = resourcemanager_v3.ProjectsClient(credentials=credentials, transport="rest", **self._options())
            return list(projects.test_iam_permissions(resource=f"projects/{resource}", permissions=wanted).permissions)
        if kind is Kind.BUCKET:
            from google.cloud import storage

            options = self._options()
            client = storage.Client(project=self.project, credentials=credentials, **options)
            return list(client.bucket(resource).test_iam_permissions(wanted))
        if kind is Kind.TOPIC:
            from google.pubsub_v1.services.publisher import PublisherClient
            from google.pubsub_v1.services.publisher.transports.rest import PublisherRestTransport

            # An explicit transport: the client would otherwise dial PUBSUB_EMULATOR_HOST, which has no IAM.
            host = self.endpoint if self.local and self.endpoint else "pubsub.googleapis.com"
            publisher = PublisherClient(transport=PublisherRestTransport(host=host, credentials=credentials))
            topic = f"projects/{self.project}/topics/{resource}"
            return list(publisher.test_iam_permissions(request={"resource": topic, "permissions": wanted}).permissions)
        from google.cloud import secretmanager

        secrets = secretmanager.SecretManagerServiceClient(credentials=credentials, transport="rest", **self._options())
        secret = f"projects/{self.project}/secrets/{resource}"
        return list(secrets.test_iam_permissions(request={"resource": secret, "permissions": wanted}).permissions)

    def bucket_exists(self, bucket: str) -> bool:
        try:
            return bool(clients.storage_client(self.project).lookup_bucket(bucket))
        except Exception as exc:  # noqa: BLE001
            raise self._with_project(_refused(exc, f"looking up gs://{bucket}")) from None

    def topic_subscriptions(self, topic: str) -> list[str] | None:
        from google.api_core import exceptions as gexc
        from google.cloud import pubsub_v1

        publisher = pubsub_v1.PublisherClient()  # PUBSUB_EMULATOR_HOST, when set, is the local topology
        try:
            found = publisher.list_topic_subscriptions(request={"topic": f"projects/{self.project}/topics/{topic}"})
            return [name.rsplit("/", 1)[1] for name in found]
        except gexc.NotFound:
            return None
        except Exception as exc:  # noqa: BLE001
            raise self._with_project(_refused(exc, f"listing the subscriptions of {topic}")) from None

    def subscription_exists(self, subscription: str) -> bool:
        from google.api_core import exceptions as gexc
        from google.cloud import pubsub_v1

        subscriber = pubsub_v1.SubscriberClient()
        try:
            subscriber.get_subscription(
                request={"subscription": f"projects/{self.project}/subscriptions/{subscription}"}
            )
            return True
        except gexc.NotFound:
            return False
        except Exception as exc:  # noqa: BLE001
            raise self._with_project(_refused(exc, f"reading subscription {subscription}")) from None
        finally:
            subscriber.close()

    def secret_exists(self, secret: str) -> bool:
        from google.api_core import exceptions as gexc
        from google.cloud import secretmanager

        client = secretmanager.SecretManagerServiceClient(credentials=self.caller, transport="rest", **self._options())
        try:
            client.get_secret(name=f"projects/{self.project}/secrets/{secret}")
            return True
        except gexc.NotFound:
            return False
        except Exception as exc:  # noqa: BLE001
            raise self._with_project(_refused(exc, f"reading secret {secret}")) from None

    def scheduler_job_exists(self, region: str, job_id: str) -> bool:
        from google.api_core import exceptions as gexc
        from google.cloud import scheduler_v1

        client = scheduler_v1.CloudSchedulerClient(credentials=self.caller, transport="rest", **self._options())
        try:
            client.get_job(name=f"projects/{self.project}/locations/{region}/jobs/{job_id}")
            return True
        except gexc.NotFound:
            return False
        except Exception as exc:  # noqa: BLE001
            raise self._with_project(_refused(exc, f"reading scheduler job {job_id}")) from None

    def _with_project(self, error: ProbeError) -> ProbeError:
        if error.fix:
            error.fix = error.fix.replace("--project=PROJECT", f"--project={self.project}")
        return error
