"""The project-APIs stand-in answers Google's client libraries unchanged (REST, anonymous or local tokens).

Served in a thread here (no local cloud needed); the local cloud starts the same server as a process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials

from local.services.processes import free_port
from local.services.projectapis import LOCAL_GPU_QUOTA, initial_state
from local.standins.projectapis import admin
from local.standins.projectapis.server import ProjectApisServer
from local.standins.projectapis.state import ProjectState
from shared.quotas import metrics
from shared.quotas.refresh import read_gpu_quotas

PROJECT = "local-project"
FUNCTIONS_SA = f"flexrun-functions@{PROJECT}.iam.gserviceaccount.com"
ENV = {"GCP_PROJECT_ID": PROJECT, "GCP_REGION": "us-central1", "GCP_BUCKET_NAME": "flexrun-packages"}
L4_DWS = f"{metrics.SERVICE}/custom_model_training_preemptible_nvidia_l4_gpus"


@pytest.fixture()
def apis() -> Iterator[str]:
    state = ProjectState(initial_state(ENV))
    server = ProjectApisServer(("127.0.0.1", free_port()), state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _options(url: str) -> dict:
    return {"credentials": AnonymousCredentials(), "transport": "rest", "client_options": {"api_endpoint": url}}


def test_cloud_quotas_client_reads_every_page_and_the_region_specific_value(apis: str):
    from google.cloud import cloudquotas_v1

    admin.set_quota(apis, L4_DWS, "us-east4", 0)
    client = cloudquotas_v1.CloudQuotasClient(**_options(apis))
    snapshot = read_gpu_quotas(client, PROJECT)

    assert len(snapshot.metrics) == len(metrics.gpu_quota_metrics())  # more than one page of 20 QuotaInfos
    assert snapshot.limit(L4_DWS, "us-east4") == 0
    assert snapshot.limit(L4_DWS, "us-central1") == LOCAL_GPU_QUOTA  # the entry without a region dimension
    info = client.get_quota_info(
        name=f"projects/{PROJECT}/locations/global/services/{metrics.SERVICE}/quotaInfos/{snapshot.quota_id(L4_DWS)}"
    )
    assert info.metric == L4_DWS and info.dimensions_infos[0].dimensions["region"] == "us-east4"


def test_quota_preference_needs_quota_admin_and_is_recorded_but_not_granted(apis: str):
    from google.cloud import cloudquotas_v1

    client = cloudquotas_v1.CloudQuotasClient(**_options(apis))
    request = {
        "parent": f"projects/{PROJECT}/locations/global",
        "quota_preference_id": "more-l4",
        "quota_preference": cloudquotas_v1.QuotaPreference(
            service=metrics.SERVICE,
            quota_id="X",
            dimensions={"region": "us-east4"},
            quota_config=cloudquotas_v1.QuotaConfig(preferred_value=4),
        ),
    }
    with pytest.raises(gexc.Forbidden, match="cloudquotas.quotas.update"):
        client.create_quota_preference(request=request)
    grant = {
        "resource": f"projects/{PROJECT}",
        "role": "roles/cloudquotas.admin",
        "member": "user:developer@example.com",
    }
    admin.update(apis, bindings=[*admin.state(apis)["bindings"], grant])
    created = client.create_quota_preference(request=request)
    assert admin.state(apis)["quotas"][0]["values"] == {"": LOCAL_GPU_QUOTA}  # nothing granted by asking
    assert created.reconciling and created.quota_config.preferred_value == 4
    assert [p.name for p in client.list_quota_preferences(parent=f"projects/{PROJECT}/locations/global")] == [
        created.name
    ]


def test_service_usage_lists_only_enabled_services_and_a_disabled_api_refuses_its_calls(apis: str):
    from google.cloud import cloudquotas_v1, service_usage_v1

    admin.disable_service(apis, "cloudquotas.googleapis.com")
    usage = service_usage_v1.ServiceUsageClient(**_options(apis))
    enabled = {
        s.config.name for s in usage.list_services(request={"parent": f"projects/{PROJECT}", "filter": "state:ENABLED"})
    }
    assert "aiplatform.googleapis.com" in enabled and "cloudquotas.googleapis.com" not in enabled
    got = usage.get_service(request={"name": f"projects/{PROJECT}/services/cloudquotas.googleapis.com"})
    assert got.state == service_usage_v1.State.DISABLED and got.name.startswith("projects/1")  # the project number

    with pytest.raises(gexc.Forbidden, match="has not been used in project"):
        read_gpu_quotas(cloudquotas_v1.CloudQuotasClient(**_options(apis)), PROJECT)


def test_test_iam_permissions_answers_for_the_identity_of_the_token(apis: str):
    from google.auth import impersonated_credentials
    from google.auth.transport.requests import Request
    from google.cloud import resourcemanager_v3, secretmanager, storage
    from google.oauth2.credentials import Credentials

    caller = Credentials(token="developer")
    functions = impersonated_credentials.Credentials(
        source_credentials=caller,
        target_principal=FUNCTIONS_SA,
        target_scopes=["https://www.googleapis.com/auth/cloud-platform"],
        iam_endpoint_override=f"{apis}/v1/projects/-/serviceAccounts/{FUNCTIONS_SA}:generateAccessToken",
    )
    functions.refresh(Request())
    wanted = ["aiplatform.customJobs.create", "resourcemanager.projects.delete"]
    projects = resourcemanager_v3.ProjectsClient(
        credentials=functions, transport="rest", client_options={"api_endpoint": apis}
    )
    assert list(projects.test_iam_permissions(resource=f"projects/{PROJECT}", permissions=wanted).permissions) == [
        "aiplatform.customJobs.create"
    ]
    as_caller = resourcemanager_v3.ProjectsClient(
        credentials=caller, transport="rest", client_options={"api_endpoint": apis}
    )
    assert not as_caller.test_iam_permissions(resource=f"projects/{PROJECT}", permissions=wanted).permissions

    bucket = storage.Client(project=PROJECT, credentials=functions, client_options={"api_endpoint": apis}).bucket(
        "flexrun-packages"
    )
    assert bucket.test_iam_permissions(["storage.objects.get", "storage.buckets.delete"]) == ["storage.objects.get"]

    secrets = secretmanager.SecretManagerServiceClient(
        credentials=functions, transport="rest", client_options={"api_endpoint": apis}
    )
    secret = f"projects/{PROJECT}/secrets/flexrun-mongodb-url"
    admin.revoke(apis, f"serviceAccount:{FUNCTIONS_SA}", "roles/secretmanager.secretAccessor", secret)
    answer = secrets.test_iam_permissions(
        request={"resource": secret, "permissions": ["secretmanager.versions.access"]}
    )
    assert list(answer.permissions) == []


def test_impersonating_an_unknown_account_or_without_token_creator_is_refused(apis: str):
    from google.auth import exceptions as auth_exceptions
    from google.auth import impersonated_credentials
    from google.auth.transport.requests import Request
    from google.oauth2.credentials import Credentials

    admin.revoke(apis, "user:developer@example.com", "roles/iam.serviceAccountTokenCreator")
    for account in (FUNCTIONS_SA, f"nobody@{PROJECT}.iam.gserviceaccount.com"):
        credentials = impersonated_credentials.Credentials(
            source_credentials=Credentials(token="developer"),
            target_principal=account,
            target_scopes=["https://www.googleapis.com/auth/cloud-platform"],
            iam_endpoint_override=f"{apis}/v1/projects/-/serviceAccounts/{account}:generateAccessToken",
        )
        with pytest.raises(auth_exceptions.RefreshError):
            credentials.refresh(Request())


def test_secret_and_scheduler_job_metadata_and_their_absence(apis: str):
    from google.cloud import scheduler_v1, secretmanager

    secrets = secretmanager.SecretManagerServiceClient(**_options(apis))
    assert secrets.get_secret(name=f"projects/{PROJECT}/secrets/flexrun-slack-webhook-url").name.endswith(
        "/secrets/flexrun-slack-webhook-url"
    )
    admin.delete_secret(apis, "flexrun-slack-webhook-url")
    with pytest.raises(gexc.NotFound):
        secrets.get_secret(name=f"projects/{PROJECT}/secrets/flexrun-slack-webhook-url")

    scheduler = scheduler_v1.CloudSchedulerClient(**_options(apis))
    job = scheduler.get_job(name=f"projects/{PROJECT}/locations/us-central1/jobs/flexrun-nightly")
    assert job.time_zone == "Asia/Seoul" and job.pubsub_target.attributes["schedule"] == "nightly"
    with pytest.raises(gexc.NotFound):
        scheduler.get_job(name=f"projects/{PROJECT}/locations/us-east4/jobs/flexrun-nightly")
