"""Why a run failed, in words a team can act on (the known failures from the original notes)."""

from __future__ import annotations

import re

# (failure class, pattern in Vertex's error message, what to do)
_KNOWN = (
    (
        "python_not_found",
        re.compile(r"non-zero status of 127"),
        "exit 127: `python` was not found in the container; check the executor image and PATH (python3).",
    ),
    (
        "quota_exceeded",
        re.compile(r"quota metrics exceed quota limits|quota", re.I),
        "GPU quota exceeded (DWS uses preemptible quota): request quota, or try another GPU type or region.",
    ),
    (
        "capacity_wait_expired",
        re.compile(r"max wait|maxwaitduration|max_wait_duration|resources? (are )?unavailable", re.I),
        "No GPU capacity within the max wait: allow a longer max_wait, or another GPU type or region.",
    ),
    (
        "timeout",
        re.compile(r"timeout|deadline|exceeded the maximum", re.I),
        "The job ran past its timeout: raise `timeout` in the run message or make training shorter.",
    ),
    (
        "credentials",
        re.compile(r"credentials|permission|403", re.I),
        "Credentials or permissions: check the trainer's service account and its roles.",
    ),
    (
        "trainer_error",
        re.compile(r"non-zero status of \d+"),
        "The trainer exited with an error: read its replica log (gcloud ai custom-jobs stream-logs).",
    ),
)


def classify_failure(message: str) -> tuple[str, str]:
    for failure_class, pattern, hint in _KNOWN:
        if pattern.search(message or ""):
            return failure_class, hint
    return "unknown", "See the job's logs in the Vertex AI console (gcloud ai custom-jobs describe)."
