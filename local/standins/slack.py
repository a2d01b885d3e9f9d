"""Slack: a local incoming-webhook receiver that records what flexrun posts.

Run as its own process: `python -m local.standins.slack --port P --record FILE`.

- `POST /services/...`       records the JSON payload (one JSONL line), answers 200 `ok` as Slack does
- `GET /_received`           the recorded payloads, as a JSON list (tests and the demo read it)
- `POST /_admin/faults`      `{"status": 500, "count": N}`: the next N webhook posts fail (chaos tests)

The stdlib http.server is enough: one small JSON endpoint at test traffic, and it adds no dependency.
ThreadingHTTPServer keeps a slow client from blocking the others; a lock serialises the file writes.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.services.processes import ManagedProcess, free_port, http_probe
from local.standins.http_handler import StandinHandler
from shared.config import logs
from shared.config.logs import log


class Receiver:
    """The recorded payloads and pending injected faults, shared by the request threads."""

    def __init__(self, record: Path) -> None:
        self.record = record
        self.lock = threading.Lock()
        self.fault_status = 0
        self.fault_count = 0

    def take_fault(self) -> int:
        with self.lock:
            if self.fault_count <= 0:
                return 0
            self.fault_count -= 1
            return self.fault_status

    def append(self, path: str, payload: Any) -> None:
        line = {"received_at": datetime.now(timezone.utc).isoformat(), "path": path, "payload": payload}
        with self.lock, self.record.open("a") as out:
            out.write(json.dumps(line) + "\n")

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            if not self.record.exists():
                return []
            return [json.loads(line) for line in self.record.read_text().splitlines() if line]


def make_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(StandinHandler):
        def _reply(self, status: int, body: str, content_type: str = "text/plain") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            return json.loads(raw or b"null")

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.split("?")[0] == "/_received":
                self._reply(200, json.dumps(receiver.received()), "application/json")
            else:
                self._reply(404, "not_found")

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            try:
                body = self._body()
            except ValueError:
                self._reply(400, "invalid_payload")  # Slack's answer to a body that is not JSON
                return
            if path == "/_admin/faults":
                with receiver.lock:
                    receiver.fault_status = int(body.get("status", 500))
                    receiver.fault_count = int(body.get("count", 1))
                self._reply(200, "ok")
            elif path.startswith("/services/"):
                status = receiver.take_fault()
                if status:
                    log("WARNING", "injected fault", status=status, path=path)
                    self._reply(status, "injected_fault")
                    return
                receiver.append(path, body)
                log("INFO", "webhook received", path=path, text=(body or {}).get("text"))
                self._reply(200, "ok")
            else:
                self._reply(404, "no_service")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # one JSON line per request is written above instead of the access log

    return Handler


def start_slack(state_dir: Path, python: str, repo_root: Path) -> tuple[ManagedProcess, str]:
    """Start the receiver as its own process; returns it and its base URL."""
    port = free_port()
    record = state_dir / "slack-received.jsonl"
    argv = [python, "-m", "local.standins.slack", "--port", str(port), "--record", str(record)]
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    process = ManagedProcess(name="slack", argv=argv, state_dir=state_dir, env=env, cwd=repo_root)
    process.start(http_probe(f"http://127.0.0.1:{port}/_received"), timeout=20)
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    logs.setup(component="slack")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True, help="JSONL file of received payloads")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Receiver(args.record)))
    log("INFO", "slack receiver listening", port=args.port, record=str(args.record))
    server.serve_forever()


if __name__ == "__main__":
    main()
