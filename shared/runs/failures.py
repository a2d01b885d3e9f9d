"""Why a run failed, in words a team can act on: a class and a one-line hint per known failure.

Matched against the job's `error.message` and the log line that woke us up. The order matters: the
first match wins, so specific causes (exit 127, OOM) come before the general ones. The capacity
classes (`capacity_wait_expired`, `stockout`, `quota_exceeded`) hand over to the fallback chain
(shared/runs/fallback.py).
"""

from __future__ import annotations

import re

# (failure class, pattern, what to do)
_KNOWN = (
    (
        "python_not_found",
        re.compile(r"non-zero status of 127|exit(ed)? (code|status) 127|python: (command )?not found", re.I),
        "exit 127: `python` was not found in the container; check the executor image and PATH (python3).",
    ),
    (
        "capacity_wait_expired",
        re.compile(r"max(imum)? wait|maxwaitduration|max_wait_duration", re.I),
        "No GPU capacity within the max wait: the fallback chain tries the next step; or allow a longer max_wait.",
    ),
    (
        "stockout",
        re.compile(
            r"stockout|resource_pool_exhausted|resources? (are )?(unavailable|insufficient)|out of capacity", re.I
        ),
        "The region has no capacity for this GPU now: the fallback chain tries another GPU type or region.",
    ),
    (
        "quota_exceeded",
        re.compile(r"quota", re.I),
        "GPU quota exceeded (DWS uses preemptible quota): request quota, or try another GPU type or region.",
    ),
    (
        "out_of_memory",
        re.compile(r"out of memory|\bOOM\b|oom-kill|status of 137|exit(ed)? (code|status) 137|MemoryError", re.I),
        "Out of memory: use a smaller batch size or a machine type with more memory (or a bigger GPU).",
    ),
    (
        "timeout",
        re.compile(r"timeout|timed out|deadline|exceeded the maximum", re.I),
        "The job ran past its timeout: raise `timeout` in the run message or make training shorter.",
    ),
    (
        "credentials",
        re.compile(r"credentials|permission|forbidden|\b403\b|unauthenticated", re.I),
        "Credentials or permissions: check the trainer's service account and its roles.",
    ),
    (
        "package_import_error",
        re.compile(r"ModuleNotFoundError|ImportError|No module named", re.I),
        "The trainer package does not import: check its dependencies and the module name (FLEXRUN_TRAINER_MODULE).",
    ),
    (
        "trainer_error",
        re.compile(r"non-zero status of \d+|exit(ed)? (code|status) \d+", re.I),
        "The trainer exited with an error: read its replica log (gcloud ai custom-jobs stream-logs).",
    ),
)


def classify_failure(*texts: str) -> tuple[str, str]:
    """(failure class, hint) for the first known cause found in any of `texts`."""
    joined = "\n".join(text for text in texts if text)
    for failure_class, pattern, hint in _KNOWN:
        if pattern.search(joined):
            return failure_class, hint
    return "unknown", "See the job's logs in the Vertex AI console (gcloud ai custom-jobs describe)."
