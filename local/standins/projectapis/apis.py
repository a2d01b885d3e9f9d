"""The REST methods the stand-in serves, each answering the JSON Google's API reference documents.

- Cloud Quotas v1: projects.locations.services.quotaInfos.list/get, projects.locations.quotaPreferences.list/create
- Service Usage v1: services.get, services.list (`filter=state:ENABLED`)
- Resource Manager v3 projects.testIamPermissions; Cloud Storage JSON buckets.testIamPermissions;
  Pub/Sub topics/subscriptions.testIamPermissions; Secret Manager secrets.get/testIamPermissions
- Cloud Scheduler v1 jobs.get; IAM Credentials v1 serviceAccounts.generateAccessToken

Each method needs the permission Google's reference names for it, held by the caller (a bearer token
this stand-in minted names a service account; anything else is the configured caller), and its API
enabled: otherwise 403, as Google answers.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from local.standins.projectapis.state import TOKEN_PREFIX, ProjectState

ALL_REGIONS = ("us-central1", "us-east1", "us-east4", "us-west1", "us-west4", "europe-west4", "asia-southeast1")
PAGE_SIZE_MAX = 20  # small on purpose: a client that ignores nextPageToken misses quotas


class ApiError(Exception):
    """A Google JSON error: `{"error": {"code", "message", "status", "details"}}`."""

    def __init__(self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details or []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


class Apis:
    def __init__(self, state: ProjectState) -> None:
        self.state = state

    # Guards
    def require(self, authorization: str | None, api: str, permission: str, resource: str, shown: str) -> None:
        number = self.state.get("project_number")
        if api not in self.state.get("services"):
            raise ApiError(
                403,
                "PERMISSION_DENIED",
                f"{api} has not been used in project {number} before or it is disabled. Enable it by visiting "
                f"https://console.developers.google.com/apis/api/{api}/overview?project={number} then retry.",
                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED",
                  "domain": "googleapis.com", "metadata": {"service": api, "consumer": f"projects/{number}"}}],
            )  # fmt: skip
        member = self.state.principal(authorization)
        if permission not in self.state.permissions_of(member, resource):
            raise ApiError(
                403,
                "PERMISSION_DENIED",
                f"Permission '{permission}' denied on resource '{shown}' (or it may not exist).",
            )

    def _project(self, project: str) -> str:
        if not self.state.project_matches(project):
            raise ApiError(403, "PERMISSION_DENIED", f"Project '{project}' not found or permission denied.")
        return f"projects/{self.state.get('project')}"

    # Cloud Quotas
    def _quota_info(self, quota: dict[str, Any]) -> dict[str, Any]:
        number = self.state.get("project_number")
        values: dict[str, int] = quota["values"]
        specific = [
            {"dimensions": {"region": region}, "details": {"value": str(value)}, "applicableLocations": [region]}
            for region, value in sorted(values.items())
            if region
        ]
        infos = list(specific)  # ordered from more specific to less specific, as the API documents
        if "" in values:
            rest = [r for r in ALL_REGIONS if r not in values]
            infos.append({"dimensions": {}, "details": {"value": str(values[""])}, "applicableLocations": rest})
        return {
            "name": f"projects/{number}/locations/global/services/{quota['service']}/quotaInfos/{quota['quota_id']}",
            "quotaId": quota["quota_id"],
            "metric": quota["metric"],
            "service": quota["service"],
            "isPrecise": True,
            "containerType": "PROJECT",
            "dimensions": ["region"],
            "metricDisplayName": quota.get("display_name", quota["metric"]),
            "quotaDisplayName": quota.get("display_name", quota["quota_id"]),
            "metricUnit": "1",
            "quotaIncreaseEligibility": {"isEligible": True},
            "dimensionsInfos": infos,
        }

    def list_quota_infos(
        self, auth: str | None, project: str, location: str, service: str, size: int, token: str
    ) -> dict[str, Any]:
        parent = self._project(project)
        self.require(auth, "cloudquotas.googleapis.com", "cloudquotas.quotas.get", parent, parent)
        if location != "global":
            raise ApiError(400, "INVALID_ARGUMENT", "The location of a QuotaInfo must be 'global'.")
        quotas = [q for q in self.state.get("quotas") if q["service"] == service]
        start = int(token or 0)
        size = min(size or PAGE_SIZE_MAX, PAGE_SIZE_MAX)
        page = quotas[start : start + size]
        body: dict[str, Any] = {"quotaInfos": [self._quota_info(q) for q in page]}
        if start + size < len(quotas):
            body["nextPageToken"] = str(start + size)
        return body

    def get_quota_info(self, auth: str | None, project: str, service: str, quota_id: str) -> dict[str, Any]:
        parent = self._project(project)
        self.require(auth, "cloudquotas.googleapis.com", "cloudquotas.quotas.get", parent, parent)
        for quota in self.state.get("quotas"):
            if quota["service"] == service and quota["quota_id"] == quota_id:
                return self._quota_info(quota)
        raise not_found(f"QuotaInfo {quota_id} of service {service} not found.")

    def list_quota_preferences(self, auth: str | None, project: str) -> dict[str, Any]:
        parent = self._project(project)
        self.require(auth, "cloudquotas.googleapis.com", "cloudquotas.quotas.get", parent, parent)
        return {"quotaPreferences": self.state.get("quota_preferences")}

    def create_quota_preference(
        self, auth: str | None, project: str, preference_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Recorded, never granted here: a real request waits for Google's review (`reconciling`)."""
        parent = self._project(project)
        self.require(auth, "cloudquotas.googleapis.com", "cloudquotas.quotas.update", parent, parent)
        now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        preference = {
            **body,
            "name": f"projects/{self.state.get('project_number')}/locations/global/quotaPreferences/{preference_id}",
            "createTime": now,
            "updateTime": now,
            "reconciling": True,
            "etag": base64.b64encode(now.encode()).decode(),
        }
        self.state.add("quota_preferences", preference)
        return preference

    # Service Usage
    def _service(self, name: str) -> dict[str, Any]:
        number = self.state.get("project_number")
        enabled = name in self.state.get("services")
        return {
            "name": f"projects/{number}/services/{name}",
            "parent": f"projects/{number}",
            "config": {"name": name, "title": name.split(".")[0]},
            "state": "ENABLED" if enabled else "DISABLED",
        }

    def get_service(self, auth: str | None, project: str, name: str) -> dict[str, Any]:
        parent = self._project(project)
        self.require(auth, "serviceusage.googleapis.com", "serviceusage.services.get", parent, parent)
        return self._service(name)

    def list_services(self, auth: str | None, project: str, filter_text: str, size: int, token: str) -> dict[str, Any]:
        parent = self._project(project)
        self.require(auth, "serviceusage.googleapis.com", "serviceusage.services.list", parent, parent)
        if filter_text not in ("", "state:ENABLED", "state:DISABLED"):
            raise ApiError(400, "INVALID_ARGUMENT", f"Invalid filter {filter_text!r}.")
        names = sorted(self.state.get("services"))
        if filter_text == "state:DISABLED":
            names = []  # the stand-in knows only the enabled ones
        start, size = int(token or 0), min(size or 50, 200)
        body: dict[str, Any] = {"services": [self._service(n) for n in names[start : start + size]]}
        if start + size < len(names):
            body["nextPageToken"] = str(start + size)
        return body

    # IAM tests: no permission needed to ask (the answer is the caller's own subset).
    def test_permissions(self, auth: str | None, api: str, resource: str, wanted: list[str]) -> list[str]:
        if api not in self.state.get("services"):
            self.require(auth, api, "", resource, resource)  # raises SERVICE_DISABLED
        held = self.state.permissions_of(self.state.principal(auth), resource)
        return [permission for permission in wanted if permission in held]

    # Secret Manager metadata and Cloud Scheduler jobs
    def get_secret(self, auth: str | None, project: str, secret: str) -> dict[str, Any]:
        resource = f"{self._project(project)}/secrets/{secret}"
        self.require(auth, "secretmanager.googleapis.com", "secretmanager.secrets.get", resource, resource)
        if secret not in self.state.get("secrets"):
            raise not_found(f"Secret [projects/{self.state.get('project_number')}/secrets/{secret}] not found.")
        return {
            "name": f"projects/{self.state.get('project_number')}/secrets/{secret}",
            "replication": {"automatic": {}},
            "createTime": "2026-11-27T00:00:00Z",
        }

    def get_scheduler_job(self, auth: str | None, project: str, location: str, job_id: str) -> dict[str, Any]:
        name = f"{self._project(project)}/locations/{location}/jobs/{job_id}"
        self.require(auth, "cloudscheduler.googleapis.com", "cloudscheduler.jobs.get", name, name)
        for job in self.state.get("scheduler_jobs"):
            if job["name"] == name:
                return {
                    "name": name,
                    "schedule": job.get("schedule", ""),
                    "timeZone": job.get("time_zone", "Etc/UTC"),
                    "pubsubTarget": {"topicName": job.get("topic", ""), "attributes": job.get("attributes", {})},
                    "state": "ENABLED",
                }
        raise not_found(f"Job not found: {name}.")

    # IAM Credentials
    def generate_access_token(self, auth: str | None, account: str, body: dict[str, Any]) -> dict[str, Any]:
        project = self.state.get("project")
        resource = f"projects/{project}/serviceAccounts/{account}"
        if account not in self.state.get("service_accounts"):
            raise not_found(f"Not found; Gaia id not found for email {account}")
        self.require(auth, "iamcredentials.googleapis.com", "iam.serviceAccounts.getAccessToken", resource, resource)
        lifetime = int(str(body.get("lifetime", "3600s")).rstrip("s") or 3600)
        expires = datetime.now(timezone.utc) + timedelta(seconds=lifetime)
        return {"accessToken": TOKEN_PREFIX + account, "expireTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}


def json_body(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        raise ApiError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.") from None
    if not isinstance(value, dict):
        raise ApiError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    return value
