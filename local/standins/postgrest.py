"""Supabase's REST API, locally: the PostgREST calls flexrun makes, served from a real PostgreSQL.

Run as its own process: `FLEXRUN_POSTGREST_KEY=KEY python -m local.standins.postgrest --port P --dsn DSN`.

No PostgREST binary is installable here, so this implements the subset `supabase-py` sends for
flexrun, with PostgREST's documented semantics (docs.postgrest.org, "Tables and Views", "Upsert"):
- `GET /rest/v1/T?select=*|a,b&COL=OP.VALUE&order=COL.asc|desc[.nullsfirst|.nullslast]&limit=N&offset=N`
  with OP in eq, neq, gt, gte, lt, lte, like, ilike, is, in (and a `not.` prefix)
- `POST` (insert; a JSON object or list) with `columns=`, `on_conflict=`, and
  `Prefer: resolution=merge-duplicates|ignore-duplicates, return=representation|minimal`
- `PATCH` and `DELETE` with the same filters, `Prefer: return=representation|minimal`
- `POST /rest/v1/rpc/FUNCTION` with a JSON object of named arguments ("Functions as RPC"): a
  set-returning function answers its rows as a JSON array, others their value
Rows are converted by PostgreSQL itself (`json_populate_recordset`, `json_agg`), as PostgREST does.
The `apikey` header must be the configured service key; requests then run as Supabase's
`service_role`, so the migrations' row-level-security policies are in force.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.services.processes import ManagedProcess, free_port, http_probe
from local.standins.http_handler import StandinHandler
from local.standins.postgrest_query import SCHEMA, ApiError, Database, call_function, execute, parse_prefer
from shared.config import logs
from shared.config.logs import log


def make_handler(db: Database, key: str) -> type[BaseHTTPRequestHandler]:
    class Handler(StandinHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as httpx (supabase-py's transport) expects

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; with Nagle on, the second waits for a delayed ACK.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _reply(self, status: int, payload: Any) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            if isinstance(payload, list):
                self.send_header("Content-Range", f"0-{len(payload) - 1}/*" if payload else "*/*")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if url.path == "/health":
                self._reply(200, {"status": "ok"})
                return
            try:
                if self.headers.get("apikey") != key:
                    raise ApiError(401, "PGRST301", "Invalid API key")
                profile = self.headers.get("Content-Profile") or self.headers.get("Accept-Profile") or SCHEMA
                if profile != SCHEMA:
                    raise ApiError(406, "PGRST106", f"The schema must be {SCHEMA}")
                relation = url.path.removeprefix("/rest/v1/")
                function = relation.removeprefix("rpc/") if relation.startswith("rpc/") else None
                if not url.path.startswith("/rest/v1/") or "/" in (function or relation):
                    raise ApiError(404, "PGRST125", f"Invalid path {url.path}")
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    raise ApiError(400, "PGRST102", "Empty or invalid json") from None
                if function is not None:
                    if self.command != "POST":
                        raise ApiError(405, "PGRST101", "Only POST is served for functions here")
                    self._reply(*call_function(db, function, body))
                    return
                table = relation
                query = parse_qsl(url.query, keep_blank_values=True)
                status, rows = execute(db, self.command, table, query, parse_prefer(self.headers.get("Prefer")), body)
                self._reply(status, rows)
            except ApiError as error:
                log(
                    "WARNING",
                    "request refused",
                    method=self.command,
                    path=url.path,
                    status=error.status,
                    error=error.body,
                )
                self._reply(error.status, error.body)

        do_GET = do_POST = do_PATCH = do_DELETE = _handle  # noqa: N815 (http.server's naming)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # refusals are logged as JSON above; successes are the tests' business

    return Handler


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog is 5: a burst of concurrent clients (a function's instances writing
    # at once) would be reset at connect, which PostgREST behind its own listener never does.
    request_queue_size = 128


def start_postgrest(state_dir: Path, python: str, repo_root: Path, dsn: str, key: str) -> tuple[ManagedProcess, str]:
    """Start the endpoint as its own process; returns it and its SUPABASE_URL."""
    port = free_port()
    argv = [python, "-m", "local.standins.postgrest", "--port", str(port), "--dsn", dsn]
    # The key travels in the environment, not argv: a process list shows every argument.
    env = {**os.environ, "PYTHONPATH": str(repo_root), "FLEXRUN_POSTGREST_KEY": key}
    process = ManagedProcess(name="postgrest", argv=argv, state_dir=state_dir, env=env, cwd=repo_root, stop_grace=5.0)
    process.start(http_probe(f"http://127.0.0.1:{port}/health"), timeout=20)
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    logs.setup(component="postgrest")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    args = parser.parse_args()
    key = os.environ["FLEXRUN_POSTGREST_KEY"]  # the service key clients must send as `apikey`
    server = _Server((args.host, args.port), make_handler(Database(args.dsn), key))
    server.daemon_threads = True
    log("INFO", "postgrest endpoint listening", port=args.port)
    server.serve_forever()


if __name__ == "__main__":
    main()
