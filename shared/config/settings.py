"""Every setting flexrun reads, from environment variables, in one typed object validated at start.

Names follow the original team's notes (GCP_*, VERTEX_AI_*, SUPABASE_*, MONGODB_URL); flexrun's own
additions start with FLEXRUN_.

Secrets (MONGODB_URL, SUPABASE_KEY, SLACK_WEBHOOK_URL) are `SecretStr` from the environment to the
client that uses them; their values are registered with the logger's scrubber before they are even
validated, and a malformed one is refused naming the variable, never quoting it. The job defaults
(GPU type, machine, count, fallback chain) are checked as Vertex would check them, so a bad default
fails the function's start — it is our configuration, never a fault of the run message that uses it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from shared.config import logs
from shared.config.durations import Seconds
from shared.errors import ConfigurationError, InvalidRunRequest

MAX_TIMEOUT_SECONDS = 7 * 24 * 3600  # Vertex AI's ceiling for scheduling.timeout


class Settings(BaseModel):
    """Each field is read from the environment variable of its name (any case) unless passed explicitly.

    A plain model that reads os.environ itself, not pydantic-settings' BaseSettings: importing
    pydantic_settings costs ~60 ms over pydantic on every function's cold start (measured: `import
    functions_framework` plus pydantic's models 0.227 s, plus pydantic_settings 0.287 s, medians of 7),
    for the one rule used here, which `_from_environment` keeps as BaseSettings(case_sensitive=False) had it.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

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
    vertex_ai_executor_image: str | None = Field(
        None,
        description="Image jobs run on. Unset: flexrun's trainer image (image/, pushed by cloudbuild.yaml) with "
        "containerSpec; a Vertex prebuilt image the catalog lists as available: PythonPackageSpec.",
    )
    flexrun_image_repository: str = Field(
        "flexrun", description="Artifact Registry repository (in GCP_REGION) that holds the trainer image."
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
    flexrun_validation_wait: Seconds = Field(
        900,
        ge=0,
        description="How long after its publish time a run message naming a version with no validation result "
        "yet is retried (the upload may still be validating) before it is refused; keep it under the max event age.",
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
    flexrun_reconcile_after: Seconds = Field(
        900, ge=0, description="The reconciler reads runs open (or fallbacks unanswered) at least this long."
    )
    flexrun_run_requests_topic: str = Field(
        "run-requests",
        description="Topic submit-run's trigger reads; job-state publishes a fallback's next attempt here.",
    )
    flexrun_trainer_secrets: str = Field(
        "",
        description="ENV=SECRET[:VERSION],...: Secret Manager secrets the trainer resolves; the job gets ENV_SECRET "
        "= the secret version's resource name, never the value.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, given: Any) -> Any:
        """Environment variables under the given values, matched to fields case-insensitively.

        As BaseSettings did: of two variables differing only in case the later in os.environ wins, of two
        given names the first; a given value (None included) beats the environment; others are ignored.
        """
        if not isinstance(given, dict):
            return given
        values = {key.lower(): value for key, value in os.environ.items() if key.lower() in cls.model_fields}
        explicit: dict[str, Any] = {}
        for key, value in given.items():
            explicit.setdefault(key.lower() if key.lower() in cls.model_fields else key, value)
        return {**values, **explicit}

    @field_validator("mongodb_url")
    @classmethod
    def _mongodb_url(cls, value: SecretStr | None) -> SecretStr | None:
        return _secret_url(value, ("mongodb://", "mongodb+srv://"))

    @field_validator("slack_webhook_url")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        return _secret_url(value, ("https://",))

    @field_validator("supabase_key")
    @classmethod
    def _supabase_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if any(char.isspace() for char in value.get_secret_value()):
            raise ValueError("must be one API key with no spaces or line breaks (the value is not shown)")
        return value

    @field_validator("supabase_url")
    @classmethod
    def _supabase_url(cls, value: str | None) -> str | None:
        if value and not (value.startswith("https://") or _loopback_http(value)):
            raise ValueError("must be an https:// URL (http:// only on loopback)")
        return value or None

    @field_validator("flexrun_fallback_on")
    @classmethod
    def _known_failure_classes(cls, value: str) -> str:
        from shared.runs.failures import FailureClass

        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if FailureClass.parse(name) is None]
        if unknown:
            raise ValueError(f"unknown failure classes {unknown}; known: {', '.join(FailureClass)}")
        return ",".join(names)

    @field_validator("vertex_ai_gpu_type")
    @classmethod
    def _known_gpu(cls, value: str) -> str:
        from shared.jobs import catalog

        try:
            catalog.gpu_entry(value)
            return catalog.canonical_gpu(value)
        except InvalidRunRequest as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _job_defaults_run(self) -> Settings:
        """The defaults every run message inherits, checked as Vertex would check them."""
        from shared.jobs import catalog
        from shared.runs import fallback

        gpu, machine, count = self.vertex_ai_gpu_type, self.vertex_ai_machine_type, self.vertex_ai_gpu_count
        try:
            catalog.check_gpu_machine(gpu, machine, count)
        except InvalidRunRequest as exc:
            raise ValueError(f"VERTEX_AI_MACHINE_TYPE / VERTEX_AI_GPU_COUNT: {exc}") from None
        try:
            steps = fallback.parse_chain(self.flexrun_fallback_chain)
            defaults = fallback.Resolved(gpu, count, machine, self.gcp_region, "FLEX_START", 0)
            fallback.resolve_chain(steps[0].over(defaults) if steps else defaults, steps)
        except (ValueError, OSError, InvalidRunRequest) as exc:
            raise ValueError(f"FLEXRUN_FALLBACK_CHAIN: {exc}") from None
        return self

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
    def vertex_parent(self) -> str:
        return f"projects/{self.gcp_project_id}/locations/{self.gcp_region}"


SECRET_VARIABLES = ("MONGODB_URL", "SUPABASE_KEY", "SLACK_WEBHOOK_URL")


def _loopback_http(url: str) -> bool:
    # The local cloud's stand-ins listen on loopback over plain HTTP; nothing else may.
    return url.startswith(("http://127.0.0.1:", "http://localhost:", "http://[::1]:"))


def _secret_url(value: SecretStr | None, schemes: tuple[str, ...]) -> SecretStr | None:
    if value is None or not value.get_secret_value():
        return None
    url = value.get_secret_value()
    if not (url.startswith(schemes) or (schemes == ("https://",) and _loopback_http(url))):
        raise ValueError(f"must start with {' or '.join(schemes)} (the value is not shown)")
    return value


def register_secrets(environ: Mapping[str, str]) -> None:
    """Hand every secret variable's value, and the parts a client may quote alone, to the log scrubber.

    Done before validation, so even a value the settings refuse never reaches a log line.
    """
    for name in SECRET_VARIABLES:
        value = next((v for k, v in environ.items() if k.upper() == name), None)
        if not value:
            continue
        rest = value.split("://", 1)[-1]
        userinfo, _, hostpath = rest.rpartition("@")
        parts = [userinfo.split(":", 1)[1]] if ":" in userinfo else []  # a database URL's password
        if name == "SLACK_WEBHOOK_URL" and "/" in hostpath:
            parts.append(hostpath.split("/", 1)[1])  # a webhook's secret is its path
        logs.register_secret(value, *parts)


def load_settings() -> Settings:
    """Read the environment; a missing or bad variable raises ConfigurationError naming it, never its value."""
    register_secrets(os.environ)
    try:
        return Settings()  # type: ignore[call-arg]  # values come from the environment
    except ValidationError as exc:
        raise ConfigurationError("invalid settings: " + "; ".join(_problems(exc))) from None


def _problems(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        message = str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"{str(err['loc'][0]).upper()}: {message}" if err["loc"] else message)
    return problems


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (a Cloud Function instance serves many events).

    A function calls it per event: bad settings then fail every event with an error naming the
    variable, and the trigger redelivers each one until the configuration is fixed — none is lost.
    """
    try:
        return load_settings()
    except ConfigurationError as exc:
        logs.error("function misconfigured; event will be retried", error=str(exc))
        raise
