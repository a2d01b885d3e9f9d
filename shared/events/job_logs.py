"""Log entries forwarded by the Cloud Logging sink → which Vertex AI job woke us up.

Log lines are not an API contract: we only take the job id from the entry and read the real state
with `get_custom_job`. Text and JSON payloads are both accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidEvent
from shared.events.cloudevents import PubsubMessage

_JOB_IN_TEXT = re.compile(r"customJobs/(\d+)")
# A job's last `service` lines (google-facts.md): nothing is logged after them, yet Vertex sets the
# terminal state and error about a minute later, so the read they trigger may still see it running.
FINAL_LINES = ("Job completed successfully.", "Job failed.", "Job was cancelled.")


@dataclass(frozen=True)
class JobWakeUp:
    job_id: str
    project_id: str | None
    severity: str
    text: str

    @property
    def is_final(self) -> bool:
        """The line that says the job has ended: no later line will wake us for this job."""
        return self.text.strip() in FINAL_LINES


def parse_job_log_entry(message: PubsubMessage) -> JobWakeUp | None:
    """The job this entry is about; None for entries that are not Vertex custom job service logs."""
    entry: Any = message.json()
    if not isinstance(entry, dict):
        raise InvalidEvent("log entry must be a JSON object")
    resource = entry.get("resource") or {}
    if not isinstance(resource, dict):
        raise InvalidEvent("log entry resource must be an object")
    labels = resource.get("labels") or {}
    if not isinstance(labels, dict):
        raise InvalidEvent("log entry resource.labels must be an object")
    text = entry.get("textPayload")
    if text is None and isinstance(entry.get("jsonPayload"), dict):
        text = str(entry["jsonPayload"].get("message", ""))
    text = str(text or "")
    if resource.get("type") != "ml_job":
        return None
    if labels.get("task_name", "service") != "service":
        return None  # replica logs (stdout of the trainer) say nothing about the job's state
    job_id = str(labels.get("job_id") or "")
    if not job_id:
        found = _JOB_IN_TEXT.search(text)
        job_id = found.group(1) if found else ""
    if not job_id.isdigit():
        raise InvalidEvent(f"log entry has no usable job id (got {job_id!r})")
    return JobWakeUp(
        job_id=job_id, project_id=labels.get("project_id"), severity=str(entry.get("severity", "")), text=text[:500]
    )
