"""Every setting flexrun reads, from environment variables, in one typed object validated at start.

Names follow the original team's notes (GCP_*, VERTEX_AI_*, SUPABASE_*, MONGODB_URL); flexrun's own
additions start with FLEXRUN_. Secrets are `SecretStr` so they never print by accident.
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.config.durations import Seconds
from shared.errors import ConfigurationError

MAX_TIMEOUT_SECONDS = 7 * 24 * 3600  # Vertex AI's ceiling for scheduling.timeout


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # Google Cloud
    gcp_project_id: str = Field(description="Project that owns the bucket and runs the Vertex AI jobs.")
    gcp_region: str = Field("us-central1", description="Vertex AI region for jobs.")
    gcp_bucket_name: str = Field("stock-trading-packages", description="Bucket that receives trainer packages.")
    gcp_staging_bucket: str | None = Field(None, description="Bucket for job outputs; defaults to the package bucket.")

    # Vertex AI job defaults (a run message may override some of them)
    vertex_ai_job_name: str = Field("stock-prediction-dws-job", description="Display name prefix of CustomJobs.")
    vertex_ai_machine_type: str = Field("a2-highgpu-1g")
    vertex_ai_gpu_type: str = Field("NVIDIA_TESLA_A100")
    vertex_ai_gpu_count: int = Field(1, ge=1, le=16)
    vertex_ai_max_wait_duration: Seconds = Field(
        1800, ge=0, description="How long a FLEX_START job may queue (600, 30m, 1h30m); 0 = no limit."
    )
    vertex_ai_timeout: Seconds = Field(3600, ge=1, le=MAX_TIMEOUT_SECONDS, description="How long a job may run.")
    vertex_ai_service_account: str | None = Field(None, description="Service account the trainer runs as.")
    vertex_ai_api_endpoint: str | None = Field(
        None, description="Vertex AI endpoint; default REGION-aiplatform.googleapis.com. http:// selects a local one."
    )
    vertex_ai_executor_image: str = Field(
        "us-docker.pkg.dev/vertex-ai/training/tf-gpu.2-17.py310:latest",
        description="Prebuilt TensorFlow training image that runs the PythonPackageSpec.",
    )

    # Stores and notifications
    mongodb_url: SecretStr | None = Field(None, description="MongoDB URL; the database name in the path is used.")
    supabase_url: str | None = None
    supabase_key: SecretStr | None = None
    slack_webhook_url: SecretStr | None = Field(None, description="Slack incoming webhook; unset = no Slack messages.")

    # flexrun's own
    flexrun_packages_prefix: str = Field("packages/", description="Objects under it are trainer packages.")
    flexrun_manifest_object: str = Field("predict-package-version.json", description="Manifest at the bucket root.")
    flexrun_quarantine_prefix: str = Field("quarantine/", description="Where rejected packages are moved.")
    flexrun_deployable_prefix: str = Field(
        "deployable/",
        description="Validated packages are copied here, one name per upload and sha256; jobs run these copies.",
    )
    flexrun_output_prefix: str = Field("runs/", description="Job outputs go to gs://STAGING/PREFIX/RUN_KEY/.")
    flexrun_trainer_module: str = Field("flexrun_trainer.task", description="Module Vertex runs with python -m.")
    # Package validation limits (see shared/packages/safety.py); the deny list is comma-separated names.
    flexrun_max_package_bytes: int = Field(50 << 20, ge=1, description="Largest compressed package accepted.")
    flexrun_max_unpacked_bytes: int = Field(200 << 20, ge=1, description="Largest total inflated size.")
    flexrun_max_package_members: int = Field(5000, ge=1, description="Most archive members.")
    flexrun_max_inflation_ratio: float = Field(200.0, gt=1, description="Largest inflated/compressed ratio.")
    flexrun_denied_requirements: str = Field(
        "tensorflow-cpu,tensorflow-gpu,tensorflow-intel,tensorflow-macos,tf-nightly,tf-nightly-gpu",
        description="Requirements a package may not declare (they would replace the image's TensorFlow).",
    )
    flexrun_max_event_age: Seconds = Field(
        3600, ge=60, description="Seconds after which a still-failing event is dropped instead of retried forever."
    )
    # Run messages → jobs (issue 5): capacity fallback chain and the trainer's secrets
    flexrun_fallback_chain: str = Field(
        "",
        description="Capacity fallback steps (see shared/runs/fallback.py): compact text, a JSON list or a .json file.",
    )
    flexrun_fallback_order: Literal["as_written", "price"] = Field(
        "as_written", description="'price': steps after the first sorted by GPU hourly price."
    )
    flexrun_fallback_on: str = Field(
        "capacity_wait_expired,stockout,quota_exceeded", description="Failure classes that move to the next step."
    )
    flexrun_fallback_max_attempts: int = Field(5, ge=1, le=10, description="Attempts per run, all steps together.")
    # Quota-aware fallback (issue 18): the reconciler stores a snapshot of Vertex AI's GPU quotas here
    flexrun_quota_snapshot_object: str = Field(
        "quota-snapshot.json", description="Object in the package bucket holding the quota snapshot."
    )
    flexrun_quota_snapshot_max_age: int = Field(
        6 * 3600, ge=60, description="Seconds after which submit-run plans without the snapshot (stale)."
    )
    flexrun_project_apis_endpoint: str | None = Field(
        None,
        description="Cloud Quotas, Service Usage, IAM, Secret Manager and Scheduler metadata endpoint; "
        "http:// selects the local stand-in; unset = Google's endpoints.",
    )
    flexrun_trainer_secrets: str = Field(
        "",
        description="ENV=SECRET[:VERSION],...: Secret Manager secrets the trainer resolves; the job gets ENV_SECRET "
        "= the secret version's resource name, never the value.",
    )

    @field_validator(
        "flexrun_packages_prefix", "flexrun_quarantine_prefix", "flexrun_deployable_prefix", "flexrun_output_prefix"
    )
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @property
    def staging_bucket(self) -> str:
        return self.gcp_staging_bucket or self.gcp_bucket_name

    @property
    def vertex_endpoint(self) -> str:
        return self.vertex_ai_api_endpoint or f"{self.gcp_region}-aiplatform.googleapis.com"

    @property
    def vertex_parent(self) -> str:
        return f"projects/{self.gcp_project_id}/locations/{self.gcp_region}"

    def require(self, *names: str) -> None:
        """Fail with the variable's name when a setting this function needs is unset."""
        missing = [name.upper() for name in names if getattr(self, name) in (None, "")]
        if missing:
            raise ConfigurationError(f"missing required setting(s): {', '.join(missing)}")


def load_settings() -> Settings:
    """Read the environment; a missing or bad variable raises ConfigurationError naming it."""
    try:
        return Settings()  # type: ignore[call-arg]  # values come from the environment
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            variable = str(err["loc"][0]).upper() if err["loc"] else "?"
            problems.append(f"{variable}: {err['msg']}")
        raise ConfigurationError("invalid settings: " + "; ".join(problems)) from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (a Cloud Function instance serves many events)."""
    return load_settings()
