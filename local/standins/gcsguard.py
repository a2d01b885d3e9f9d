"""Cloud Storage preconditions fake-gcs-server skips, enforced in front of it.

fake-gcs-server ignores `ifGenerationMatch` on `copyTo` and `rewriteTo` (checked: a copy with
`if_generation_match=0` onto an existing object replaces it), on a DELETE (a stale generation deletes
the current object) and on a GET (a stale generation reads the current bytes). Cloud Storage answers 412
instead (https://cloud.google.com/storage/docs/json_api/v1/objects/delete, .../objects/get,
.../objects/copy), and validate-package relies on it: the create-only copy to `deployable/` and
`quarantine/` is how a redelivered event learns that an earlier delivery already published, the read of
exactly the uploaded generation is how it learns a newer upload replaced it, and the quarantine's delete
must spare a newer upload. So every request passes through this reverse proxy unchanged, except that a
copy, rewrite, read or delete whose object fails its `ifGenerationMatch` gets Cloud Storage's 412
without reaching the server.

    python -m local.standins.gcsguard --port PORT --upstream-port UPSTREAM -- fake-gcs-server ARGS...

runs the server as its child (one process group: stopping the guard stops both). Hand-written on
http.server: the check needs one look at the request line, and no proxy library is installed here.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import subprocess
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from local.standins.http_handler import StandinHandler

# POST /storage/v1/b/SRC_BUCKET/o/SRC/copyTo/b/DST_BUCKET/o/DST (and rewriteTo), names URL-encoded.
_COPY = re.compile(r"^/storage/v1/b/[^/]+/o/[^/]+/(?:copyTo|rewriteTo)/b/(?P<bucket>[^/]+)/o/(?P<name>[^/?]+)$")
# GET and DELETE /storage/v1/b/BUCKET/o/NAME: the precondition is on the object itself.
_OBJECT = re.compile(r"^/storage/v1/b/(?P<bucket>[^/]+)/o/(?P<name>[^/?]+)$")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def guarded_object(method: str, path: str) -> re.Match[str] | None:
    """The object (groups `bucket`, `name`) whose generation a request's ifGenerationMatch is about,
    for the requests fake-gcs-server does not check: a copy or rewrite's destination, a read or delete's object."""
    if method == "POST":
        return _COPY.match(path)
    if method in ("GET", "DELETE"):
        return _OBJECT.match(path)
    return None


def precondition_failure(path: str, query: str, current_generation: str | None, method: str = "POST") -> bool:
    """True when a copy/rewrite to `path` (or a read or delete of it) must be refused: its ifGenerationMatch
    is not the object's generation (0: the object must not exist)."""
    if not guarded_object(method, path):
        return False
    wanted = urllib.parse.parse_qs(query).get("ifGenerationMatch")
    if not wanted:
        return False
    if wanted[0] == "0":
        return current_generation is not None
    return current_generation != wanted[0]


def make_handler(upstream_port: int) -> type[BaseHTTPRequestHandler]:
    class Guard(StandinHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 — http.server's signature
            pass  # the server behind writes the log

        def _upstream(self) -> http.client.HTTPConnection:
            return http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)

        def _generation_of(self, bucket: str, name: str) -> str | None:
            connection = self._upstream()
            try:
                connection.request("GET", f"/storage/v1/b/{bucket}/o/{name}")
                response = connection.getresponse()
                body = response.read()
                return str(json.loads(body)["generation"]) if response.status == 200 else None
            finally:
                connection.close()

        def _refuse(self) -> None:
            body = json.dumps(
                {"error": {"code": 412, "message": "At least one of the pre-conditions you specified did not hold.",
                           "errors": [{"reason": "conditionNotMet", "message": "Precondition Failed"}]}}
            ).encode()  # fmt: skip
            self.send_response(412)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            path, _, query = self.path.partition("?")
            match = guarded_object(self.command, path) if "ifGenerationMatch" in query else None
            current = self._generation_of(match["bucket"], match["name"]) if match else None
            if match and precondition_failure(path, query, current, self.command):
                self._refuse()
                return
            headers = {key: value for key, value in self.headers.items() if key.lower() not in _HOP_BY_HOP}
            connection = self._upstream()
            try:
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                except ConnectionRefusedError:  # the server is still starting (or stopped)
                    self.send_response(502)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
            finally:
                connection.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

    return Guard


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.standins.gcsguard")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("server", nargs=argparse.REMAINDER, help="-- the server's command line")
    args = parser.parse_args(argv)
    command = args.server[1:] if args.server[:1] == ["--"] else args.server
    child = subprocess.Popen(command)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.upstream_port))
    server.daemon_threads = True
    try:
        server.serve_forever()
    finally:
        child.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
