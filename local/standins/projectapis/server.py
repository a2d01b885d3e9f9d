"""HTTP front of the project-APIs stand-in: Google's REST paths → `Apis`, plus `/_admin/state` and `/healthz`.

Every client library points its `api_endpoint` at this one port (locally all these APIs share a
host; in production each has its own, e.g. cloudquotas.googleapis.com). The stdlib server is enough:
loopback, a few clients, JSON in and out, no dependency added to the local cloud.
"""

from __future__ import annotations

import json
import re
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local.standins.http_handler import StandinHandler
from local.standins.projectapis.apis import ApiError, Apis, json_body, not_found
from local.standins.projectapis.state import ProjectState

_P = r"/v1/projects/(?P<project>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p), name)
    for m, p, name in (
        ("GET", _P + r"/locations/(?P<location>[^/]+)/services/(?P<service>[^/]+)/quotaInfos", "quota_infos"),
        ("GET", _P + r"/locations/[^/]+/services/(?P<service>[^/]+)/quotaInfos/(?P<id>[^/]+)", "quota_info"),
        ("GET", _P + r"/locations/[^/]+/quotaPreferences", "quota_preferences"),
        ("POST", _P + r"/locations/[^/]+/quotaPreferences", "create_quota_preference"),
        ("GET", _P + r"/services", "services"),
        ("GET", _P + r"/services/(?P<service>[^/:]+)", "service"),
        ("POST", r"/v3/projects/(?P<project>[^/:]+):testIamPermissions", "test_project"),
        ("GET", r"/storage/v1/b/(?P<bucket>[^/]+)/iam/testPermissions", "test_bucket"),
        ("POST", _P + r"/(?P<collection>topics|subscriptions)/(?P<id>[^/:]+):testIamPermissions", "test_pubsub"),
        ("GET", _P + r"/secrets/(?P<secret>[^/:]+)", "secret"),
        ("POST", _P + r"/secrets/(?P<secret>[^/:]+):testIamPermissions", "test_secret"),
        ("GET", _P + r"/locations/(?P<location>[^/]+)/jobs/(?P<job>[^/]+)", "scheduler_job"),
        ("POST", r"/v1/projects/-/serviceAccounts/(?P<account>[^/:]+):generateAccessToken", "access_token"),
    )
]


class ProjectApisServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: ProjectState) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.apis = Apis(state)


class _Handler(StandinHandler):
    server: ProjectApisServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients' requests.Session expects

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._body()
        try:
            if url.path == "/healthz":
                return self._send(200, {"status": "ok"})
            if url.path == "/_admin/state":
                if method == "POST":
                    return self._send(200, self.server.state.update(json_body(body)))
                return self._send(200, self.server.state.snapshot())
            self._send(200, self._api(method, unquote(url.path), parse_qs(url.query, keep_blank_values=True), body))
        except ApiError as error:
            self._send(error.code, error.body())
        except ValueError as error:  # a bad admin body
            self._send(400, ApiError(400, "INVALID_ARGUMENT", str(error)).body())
        except Exception as error:  # a bug answers 500 in Google's shape, never a dropped socket
            self._send(500, ApiError(500, "INTERNAL", repr(error)).body())

    def _api(self, method: str, path: str, query: dict[str, list[str]], body: str) -> dict[str, Any]:
        apis, auth = self.server.apis, self.headers.get("Authorization")
        project = self.server.state.get("project")

        def one(name: str, default: str = "") -> str:
            return query.get(name, [default])[0]

        for route_method, pattern, name in _ROUTES:
            found = pattern.fullmatch(path)
            if route_method != method or found is None:
                continue
            g = found.groupdict()
            size = int(one("pageSize", "0") or 0)
            if name == "quota_infos":
                return apis.list_quota_infos(auth, g["project"], g["location"], g["service"], size, one("pageToken"))
            if name == "quota_info":
                return apis.get_quota_info(auth, g["project"], g["service"], g["id"])
            if name == "quota_preferences":
                return apis.list_quota_preferences(auth, g["project"])
            if name == "create_quota_preference":
                return apis.create_quota_preference(auth, g["project"], one("quotaPreferenceId"), json_body(body))
            if name == "services":
                return apis.list_services(auth, g["project"], one("filter"), size, one("pageToken"))
            if name == "service":
                return apis.get_service(auth, g["project"], g["service"])
            if name == "test_project":
                wanted = json_body(body).get("permissions", [])
                return {"permissions": apis.test_permissions(auth, "cloudresourcemanager.googleapis.com",
                                                             f"projects/{project}", wanted)}  # fmt: skip
            if name == "test_bucket":
                held = apis.test_permissions(auth, "storage.googleapis.com", f"projects/_/buckets/{g['bucket']}",
                                             query.get("permissions", []))  # fmt: skip
                return {"kind": "storage#testIamPermissionsResponse", "permissions": held}
            if name == "test_pubsub":
                resource = f"projects/{project}/{g['collection']}/{g['id']}"
                wanted = json_body(body).get("permissions", [])
                return {"permissions": apis.test_permissions(auth, "pubsub.googleapis.com", resource, wanted)}
            if name == "secret":
                return apis.get_secret(auth, g["project"], g["secret"])
            if name == "test_secret":
                resource = f"projects/{project}/secrets/{g['secret']}"
                wanted = json_body(body).get("permissions", [])
                return {"permissions": apis.test_permissions(auth, "secretmanager.googleapis.com", resource, wanted)}
            if name == "scheduler_job":
                return apis.get_scheduler_job(auth, g["project"], g["location"], g["job"])
            if name == "access_token":
                return apis.generate_access_token(auth, g["account"], json_body(body))
        raise not_found(f"the local project APIs have no method {method} {path}")

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
