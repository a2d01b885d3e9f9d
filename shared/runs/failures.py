"""Why an attempt failed: one `FailureClass` and one classifier that every caller asks.

Capacity detection (a create refused in submit-run), the state mapping (states.from_vertex: a failed
FLEX_START wait is `expired`), the Slack hint and the fallback decision (fallback.next_step) all call
`classify`. It decides from codes first — the Vertex `JobState`, the replica's exit code, the
`google.rpc` code of the job's error, the HTTP status of a refusal — and reads text only through
`_PATTERNS`, one table whose rows each cite the Google message they match
(the team's reference notes, shared/reference/google-facts.md beside the repository, have the texts
and their sources; the local Vertex stand-in writes the same texts, local/standins/vertex/messages.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum


class FailureClass(StrEnum):
    PYTHON_NOT_FOUND = "python_not_found"
    CAPACITY_WAIT_EXPIRED = "capacity_wait_expired"
    STOCKOUT = "stockout"
    QUOTA_EXCEEDED = "quota_exceeded"
    OUT_OF_MEMORY = "out_of_memory"
    TIMEOUT = "timeout"
    CREDENTIALS = "credentials"
    PACKAGE_IMPORT_ERROR = "package_import_error"
    PACKAGE_INSTALL = "package_install"
    TRAINER_CONFIG = "trainer_config"
    DATA_PROBLEM = "data_problem"
    MODEL_DIVERGED = "model_diverged"
    TRAINER_ERROR = "trainer_error"
    SUBMIT_REFUSED = "submit_refused"
    UNKNOWN = "unknown"

    @property
    def is_capacity(self) -> bool:
        """Another GPU, region or strategy can fix it (the fallback chain's business); nothing else can."""
        return self in CAPACITY

    @property
    def hint(self) -> str:
        return _HINTS[self]

    @classmethod
    def parse(cls, value: str | None) -> FailureClass | None:
        """A stored class name back to the enum; None for a missing or unknown name."""
        try:
            return cls(value) if value else None
        except ValueError:
            return None


CAPACITY = frozenset({FailureClass.CAPACITY_WAIT_EXPIRED, FailureClass.STOCKOUT, FailureClass.QUOTA_EXCEEDED})

# What a person can do. Capacity hints do not promise a fallback: whether there is a next step is the
# chain's decision (submit_run.continue_run writes "Fell back to attempt N" over the hint when it falls back).
_HINTS = {
    FailureClass.PYTHON_NOT_FOUND: "exit 127: `python` was not found in the container; check the executor image "
    "and PATH (python3).",
    FailureClass.CAPACITY_WAIT_EXPIRED: "No GPU capacity within the max wait: allow a longer max_wait, or add "
    "another GPU type or region to the fallback chain.",
    FailureClass.STOCKOUT: "The region has no capacity for this GPU now: add another GPU type or region to the "
    "fallback chain, or retry later.",
    FailureClass.QUOTA_EXCEEDED: "GPU quota exceeded (DWS uses Vertex's preemptible quota): request quota, or try "
    "another GPU type or region.",
    FailureClass.OUT_OF_MEMORY: "Out of memory: use a smaller batch size or a machine type with more memory "
    "(or a bigger GPU).",
    FailureClass.TIMEOUT: "The job ran past its timeout: raise `timeout` in the run message or make training shorter.",
    FailureClass.CREDENTIALS: "Credentials or permissions: check the trainer's service account and its roles.",
    FailureClass.PACKAGE_IMPORT_ERROR: "The trainer package does not import: check its dependencies and the module "
    "name (FLEXRUN_TRAINER_MODULE).",
    FailureClass.PACKAGE_INSTALL: "The image's launcher did not run the package (65: sha256 mismatch, 69: no "
    "download, 78: not installable under the image's pins): read its flexrun-launcher log lines.",
    FailureClass.TRAINER_CONFIG: "The trainer refused its arguments or environment (exit 2): check the run "
    "message's args and env.",
    FailureClass.DATA_PROBLEM: "The trainer found a problem in its data (exit 3): read the last error line of its "
    "replica log.",
    FailureClass.MODEL_DIVERGED: "The model diverged (its scores or forecasts are NaN or infinite): lower the "
    "learning rate or the epochs, or check the inputs' scale.",
    FailureClass.TRAINER_ERROR: "The trainer exited with an error: read its replica log "
    "(gcloud ai custom-jobs stream-logs).",
    FailureClass.SUBMIT_REFUSED: "Vertex AI refused to create the job: the error says which field; fix the run "
    "message or the settings.",
    FailureClass.UNKNOWN: "See the job's logs in the Vertex AI console (gcloud ai custom-jobs describe).",
}

# Replica exit codes with one meaning. 127 is the shell's "command not found", 137 is SIGKILL (the
# kernel's OOM killer); 65, 69 and 78 are the launcher's (image/launcher.py); 2 and 3 are the trainer's
# own (trainer/src/flexrun_trainer/errors.py: EXIT_CONFIG, EXIT_DATA). Any other non-zero code is a
# TRAINER_ERROR unless the text says more.
_EXIT_CODES = {
    127: FailureClass.PYTHON_NOT_FOUND,
    137: FailureClass.OUT_OF_MEMORY,
    2: FailureClass.TRAINER_CONFIG,
    3: FailureClass.DATA_PROBLEM,
    # image/launcher.py's own statuses (sysexits.h), before the trainer starts.
    65: FailureClass.PACKAGE_INSTALL,
    69: FailureClass.PACKAGE_INSTALL,
    78: FailureClass.PACKAGE_INSTALL,
}

# google.rpc.Code (google/rpc/code.proto) of a job's error or a refused call.
_RPC_DEADLINE_EXCEEDED, _RPC_PERMISSION_DENIED, _RPC_RESOURCE_EXHAUSTED, _RPC_UNAUTHENTICATED = 4, 7, 8, 16

# Google: "The replica NAME exited with a non-zero status of CODE. Termination reason: REASON." and
# "The replica NAME ran out of memory and exited with a non-zero status of CODE." (google-facts.md).
_EXIT_STATUS = re.compile(r"exited with a non-zero status of (\d+)|exit(?:ed)? (?:code|status) (\d+)", re.I)

# The text table: first match wins, so specific causes come before general ones.
_PATTERNS: tuple[tuple[FailureClass, re.Pattern[str]], ...] = (
    # The shell in the replica: "python: command not found" / "/bin/sh: 1: python: not found".
    (FailureClass.PYTHON_NOT_FOUND, re.compile(r"python3?: (?:command )?not found", re.I)),
    # Google: "The replica NAME ran out of memory and exited ..." and "Replicas low on memory: workerpool0.
    # Specify a machine with larger memory"; TensorFlow's "OOM when allocating tensor"; Python's MemoryError.
    (
        FailureClass.OUT_OF_MEMORY,
        re.compile(r"ran out of memory|low on memory|out of memory|\bOOM\b|oom-kill|MemoryError", re.I),
    ),
    # No public sample of the DWS expiry text exists (google-facts.md): match the field it is about,
    # Scheduling.max_wait_duration, however it is spelled ("maximum wait duration", "maxWaitDuration").
    (FailureClass.CAPACITY_WAIT_EXPIRED, re.compile(r"max(?:imum)?[ _]?wait[ _]?(?:duration|time)?", re.I)),
    # Google: "Resources are insufficient in region: REGION. Try a different region or use a different
    # accelerator."; a preempted Spot job fails with "STOCKOUT"; Compute Engine's ZONE_RESOURCE_POOL_EXHAUSTED.
    (
        FailureClass.STOCKOUT,
        re.compile(r"resources are insufficient|stockout|resource_pool_exhausted", re.I),
    ),
    # Google: "The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_training_..."
    (FailureClass.QUOTA_EXCEEDED, re.compile(r"exceed(?:s|ed)? quota|quota (?:metrics|limit|exceeded)", re.I)),
    # Python's import errors in the replica log.
    (FailureClass.PACKAGE_IMPORT_ERROR, re.compile(r"ModuleNotFoundError|ImportError|No module named", re.I)),
    # Google's IAM refusals: "Permission 'storage.objects.create' denied on resource", PERMISSION_DENIED,
    # UNAUTHENTICATED; google-auth's "Could not automatically determine credentials".
    (
        FailureClass.CREDENTIALS,
        re.compile(r"permission '?[\w.]+'? denied|permission_denied|unauthenticated|determine credentials", re.I),
    ),
    # No public sample of Vertex's timeout text was found: "timeout" / "timed out" / "deadline exceeded".
    (FailureClass.TIMEOUT, re.compile(r"timeout|timed out|deadline exceeded", re.I)),
)


def exit_code(texts: Iterable[str]) -> int | None:
    """The replica's exit code named in Vertex's error text, or None."""
    for text in texts:
        found = _EXIT_STATUS.search(text or "")
        if found:
            return int(found[1] or found[2])
    return None


def from_text(texts: Iterable[str]) -> FailureClass | None:
    """The first row of the table that matches any of `texts`."""
    joined = "\n".join(text for text in texts if text)
    for failure_class, pattern in _PATTERNS:
        if pattern.search(joined):
            return failure_class
    return None


def classify(
    *texts: str,
    job_state: str | None = None,
    rpc_code: int | None = None,
    http_status: int | None = None,
    exit_status: int | None = None,
) -> FailureClass:
    """The class of a failure, from codes first and then the text table.

    `job_state`: a Vertex JobState name or a run state ("expired"). `rpc_code`: the google.rpc code of
    the job's error. `http_status`: the status of a refused API call — a 429 is capacity only when its
    text says quota (otherwise it is a rate limit, retried: shared/jobs/api_errors.classify).
    """
    if job_state in ("JOB_STATE_EXPIRED", "expired"):
        return FailureClass.CAPACITY_WAIT_EXPIRED
    code = exit_status if exit_status is not None else exit_code(texts)
    if code in _EXIT_CODES:
        return _EXIT_CODES[code]
    if rpc_code in (_RPC_PERMISSION_DENIED, _RPC_UNAUTHENTICATED) or http_status in (401, 403):
        return FailureClass.CREDENTIALS
    found = from_text(texts)
    if rpc_code == _RPC_RESOURCE_EXHAUSTED and found is None:  # a job's error: out of some resource
        return FailureClass.STOCKOUT
    if rpc_code == _RPC_DEADLINE_EXCEEDED and found is None:
        return FailureClass.TIMEOUT
    if found is not None:
        return found
    return FailureClass.TRAINER_ERROR if code else FailureClass.UNKNOWN


def refusal(exc: Exception) -> FailureClass | None:
    """The capacity class when Vertex refused a create for quota or stock; None for any other refusal.

    A 429 that names quota ("The following quota metrics exceed quota limits") is not a rate limit to
    retry: the same request fails again until quota is granted, so the run moves to its next step.
    """
    from shared.cloud.http import ApiError  # Vertex's errors (shared/jobs/vertex_rest.py); no google.api_core

    if not isinstance(exc, ApiError):
        return None
    found = classify(exc.message, http_status=exc.code)
    return found if found.is_capacity else None
