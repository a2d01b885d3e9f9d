"""What the project-APIs stand-in knows: enabled services, quotas, roles, bindings, accounts, secrets, jobs.

One JSON object, set by tests and the local cloud through `POST /_admin/state` (top-level keys
replace), read back with `GET /_admin/state`. IAM is modelled as Google documents it: a binding gives
a member a role on a resource, a role is a set of permissions, and a project's bindings are inherited
by the buckets, topics, subscriptions, secrets and service accounts in it.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

# The predefined roles flexrun binds, with the permissions of theirs it is tested for (a subset of
# each role's documented list: the doctor asks about no others).
PREDEFINED_ROLES: dict[str, list[str]] = {
    "roles/storage.objectUser": [
        "storage.objects.get", "storage.objects.create", "storage.objects.delete", "storage.objects.list",
        "storage.objects.update",
    ],
    "roles/storage.objectViewer": ["storage.objects.get", "storage.objects.list"],
    "roles/storage.objectCreator": ["storage.objects.create"],
    "roles/pubsub.publisher": ["pubsub.topics.publish"],
    "roles/pubsub.subscriber": ["pubsub.subscriptions.consume"],
    "roles/secretmanager.secretAccessor": ["secretmanager.versions.access"],
    "roles/secretmanager.viewer": ["secretmanager.secrets.get", "secretmanager.secrets.list"],
    "roles/eventarc.eventReceiver": ["eventarc.events.receiveEvent"],
    "roles/cloudquotas.viewer": ["cloudquotas.quotas.get"],
    "roles/cloudquotas.admin": ["cloudquotas.quotas.get", "cloudquotas.quotas.update"],
    "roles/serviceusage.serviceUsageViewer": ["serviceusage.services.get", "serviceusage.services.list"],
    "roles/cloudscheduler.viewer": ["cloudscheduler.jobs.get", "cloudscheduler.jobs.list"],
    "roles/iam.serviceAccountTokenCreator": ["iam.serviceAccounts.getAccessToken"],
    "roles/iam.serviceAccountUser": ["iam.serviceAccounts.actAs"],
    "roles/viewer": [
        "cloudquotas.quotas.get", "serviceusage.services.get", "serviceusage.services.list",
        "secretmanager.secrets.get", "secretmanager.secrets.list", "cloudscheduler.jobs.get", "storage.objects.list",
        "storage.objects.get",
    ],
}  # fmt: skip

EMPTY: dict[str, Any] = {
    "project": "local-project",
    "project_number": "100000000001",
    "caller": "user:developer@example.com",  # who a request without a minted token comes from
    "services": [],  # enabled service names; any other is DISABLED
    "quotas": [],  # {"quota_id", "metric", "service", "display_name", "values": {"": default, REGION: n}}
    "quota_preferences": [],
    "roles": {},  # custom roles: "projects/P/roles/ID" -> [permissions]
    "bindings": [],  # {"resource": "projects/P" | "projects/_/buckets/B" | "projects/P/topics/T" ..., "role", "member"}
    "service_accounts": [],
    "secrets": [],
    "scheduler_jobs": [],  # {"name": "projects/P/locations/L/jobs/J", "schedule", "time_zone", "topic"}
}
TOKEN_PREFIX = "local-sa-token."  # what generateAccessToken mints: the prefix and the account's email


class ProjectState:
    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.lock = threading.Lock()
        self._state = copy.deepcopy(EMPTY)
        self._state.update(copy.deepcopy(initial or {}))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._state)

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - set(EMPTY)
        if unknown:
            raise ValueError(f"unknown state keys {sorted(unknown)}; known: {sorted(EMPTY)}")
        with self.lock:
            self._state.update(copy.deepcopy(changes))
            return copy.deepcopy(self._state)

    def get(self, key: str) -> Any:
        with self.lock:
            return copy.deepcopy(self._state[key])

    def add(self, key: str, item: Any) -> None:
        with self.lock:
            self._state[key].append(copy.deepcopy(item))

    # Identity and permissions
    def principal(self, authorization: str | None) -> str:
        token = (authorization or "").removeprefix("Bearer ").strip()
        if token.startswith(TOKEN_PREFIX):
            return f"serviceAccount:{token.removeprefix(TOKEN_PREFIX)}"
        return str(self.get("caller"))

    def permissions_of(self, member: str, resource: str) -> set[str]:
        """Every permission `member` holds on `resource`, its own bindings and its project's together."""
        with self.lock:
            state = self._state
            roles = {**PREDEFINED_ROLES, **state["roles"]}
            scopes = {resource, f"projects/{state['project']}", f"projects/{state['project_number']}"}
            held: set[str] = set()
            for binding in state["bindings"]:
                if binding["member"] == member and binding["resource"] in scopes:
                    held.update(roles.get(binding["role"], []))
            return held

    def project_matches(self, project: str) -> bool:
        with self.lock:
            return project in (self._state["project"], self._state["project_number"])
