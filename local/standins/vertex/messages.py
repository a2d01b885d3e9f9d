"""What Vertex AI says, kept as data: log texts of the `service` task and job error messages.

Sources: the `service` lines of `gcloud ai custom-jobs stream-logs` output seen in public
repositories ("Waiting for job to be provisioned.", "Job is running.", "Job completed
successfully.") and the replica failure text
("The replica workerpool0-0 exited with a non-zero status of N. ... check the logs: ...").
Texts marked LOCAL are this stand-in's own honest wording where no public sample was found.
"""

from __future__ import annotations

from urllib.parse import quote

# Service log text written when a job enters a state.
STATE_TEXT: dict[str, str] = {
    "JOB_STATE_QUEUED": "Job creation request has been successfully validated.",
    "JOB_STATE_PENDING": "Waiting for job to be provisioned.",
    "JOB_STATE_RUNNING": "Job is running.",
    "JOB_STATE_SUCCEEDED": "Job completed successfully.",
    "JOB_STATE_FAILED": "Job failed.",
    "JOB_STATE_CANCELLING": "Job is being cancelled.",  # LOCAL
    "JOB_STATE_CANCELLED": "Job was cancelled.",  # LOCAL
}
PROVISIONED = "Waiting for training program to start."
TORN_DOWN = "Finished tearing down training program."  # the line before the last one of a finished job


def logs_url(project: str, job_id: str) -> str:
    advanced = quote(f'resource.type="ml_job"\nresource.labels.job_id="{job_id}"', safe="")
    return (
        f"https://console.cloud.google.com/logs/viewer?project={project}"
        f"&resource=ml_job%2Fjob_id%2F{job_id}&advancedFilter={advanced}"
    )


def replica_exit(status: int, project: str, job_id: str, detail: str = "", replica: str = "workerpool0-0") -> str:
    """Vertex's text for a replica that exited non-zero (google.rpc code 3 in the job's error)."""
    reason = f" Termination reason: Error. {detail}".rstrip() if detail else ""
    return (
        f"The replica {replica} exited with a non-zero status of {status}.{reason} "
        f"To find out more about why your job exited please check the logs: {logs_url(project, job_id)}"
    )


def stockout(region: str) -> str:
    """Capacity error text seen from Vertex when a region has no machines of the asked type."""
    return f"Resources are insufficient in region: {region}. Please try a different region."


def flex_start_expired(region: str, accelerator: str, waited: str) -> str:
    # LOCAL: no public sample of the DWS max-wait expiry text was found.
    return (
        f"Resources are insufficient in region: {region}. The job waited the maximum wait "
        f"duration ({waited}) for {accelerator} capacity with the FLEX_START strategy."
    )


def timed_out(timeout: str) -> str:
    # LOCAL: no public sample of Vertex's timeout text was found.
    return f"Job exceeded its scheduling timeout of {timeout} and was terminated."


def image_not_found(image: str) -> str:
    # LOCAL: no public sample of Vertex's text for an image it cannot pull was found. Only images
    # built from image/ exist in the local cloud (the executor venv + image/launcher.py).
    return (
        f"Unable to pull the container image {image}: it was not found in the registry, or the job's "
        "service account may not read it."
    )
