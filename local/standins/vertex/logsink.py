"""Job log entries, shaped like what a Cloud Logging sink forwards for Vertex AI jobs.

Every entry goes to `<state-dir>/log-entries.jsonl`; with a topic it is also published to
Pub/Sub (the sink's destination), data = the LogEntry JSON, as a real log sink does.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

from local.standins.vertex.store import now_rfc3339
from shared.config.logs import log


def log_entry(project: str, job_id: str, severity: str, text: str) -> dict[str, Any]:
    stamp = now_rfc3339()
    return {
        "insertId": uuid.uuid4().hex[:12],
        "logName": f"projects/{project}/logs/ml.googleapis.com%2F{job_id}",
        "resource": {
            "type": "ml_job",
            "labels": {"job_id": job_id, "project_id": project, "task_name": "service"},
        },
        "severity": severity,
        "textPayload": text,
        "timestamp": stamp,
        "receiveTimestamp": stamp,
    }


class LogSink:
    def __init__(self, jsonl: Path, project: str, topic: str | None) -> None:
        self._jsonl = jsonl
        self._project = project
        self._topic = topic
        self._lock = threading.Lock()
        self._publisher: Any = None
        self._closed = False

    def emit(self, job_id: str, severity: str, text: str) -> dict[str, Any]:
        entry = log_entry(self._project, job_id, severity, text)
        data = json.dumps(entry)
        with self._lock:
            with open(self._jsonl, "a") as out:
                out.write(data + "\n")
            if self._topic and not self._closed:
                self._publish(data.encode(), job_id)
        return entry

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._publisher is not None:
                self._publisher.stop()  # flushes what is still batched
                self._publisher = None

    def _publish(self, data: bytes, job_id: str) -> None:
        if self._publisher is None:
            # Lazy: importing pubsub costs ~0.8 s and the service may run without a topic.
            from google.cloud import pubsub_v1

            self._publisher = pubsub_v1.PublisherClient()
        topic_path = f"projects/{self._project}/topics/{self._topic}"
        future = self._publisher.publish(topic_path, data)

        def report(done: Any) -> None:
            error = done.exception()
            if error is not None:
                log("ERROR", "log entry not published", job_id=job_id, topic=topic_path, error=str(error))

        future.add_done_callback(report)
