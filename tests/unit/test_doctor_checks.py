"""The doctor's verdicts from what its probes answer: which ✗ keep runs from working, and each one's fix."""

from __future__ import annotations

from datetime import datetime, timezone

from deploy import doctor_needs
from shared.config.settings import Settings
from shared.doctor import report
from shared.doctor.checks import ProbeError, run_checks
from shared.doctor.needs import Kind
from shared.quotas.snapshot import MetricLimits, QuotaSnapshot
from shared.runs.fallback import Resolved

L4_DWS = "aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_l4_gpus"
SETTINGS = Settings(gcp_project_id="p", gcp_region="us-central1")
DEPLOYMENT = doctor_needs.deployment(SETTINGS, local=False)
STEPS = [Resolved("NVIDIA_L4", 1, "g2-standard-4", "us-central1", "FLEX_START", 1800)]


class Probes:
    """Every check passes unless a test takes something away."""

    def __init__(self) -> None:
        self.quota_error: ProbeError | None = None
        self.missing_permissions: set[tuple[str | None, str]] = set()
        self.disabled: set[str] = set()

    def gpu_quotas(self) -> QuotaSnapshot:
        if self.quota_error:
            raise self.quota_error
        return QuotaSnapshot(
            project="p", taken_at=datetime.now(timezone.utc), metrics={L4_DWS: MetricLimits(quota_id="Q", default=8)}
        )

    def enabled_services(self) -> set[str]:
        return {api for api, _ in DEPLOYMENT.apis} - self.disabled

    def held_permissions(self, account: str | None, kind: Kind, resource: str, wanted: tuple[str, ...]) -> set[str]:
        return {p for p in wanted if (account, p) not in self.missing_permissions}

    def bucket_exists(self, bucket: str) -> bool:
        return True

    def topic_subscriptions(self, topic: str) -> list[str] | None:
        return [f"{topic}-trigger"]

    def subscription_exists(self, subscription: str) -> bool:
        return True

    def secret_exists(self, secret: str) -> bool:
        return True

    def scheduler_job_exists(self, region: str, job_id: str) -> bool:
        return True


def test_a_healthy_project_passes_with_every_line_checked():
    result = run_checks("test", DEPLOYMENT, STEPS, Probes())
    assert result.ok and all(check.ok is not False for check in result.checks)
    assert {"flexrun-nightly", "flexrun-reconcile"} <= {j.job_id for j in DEPLOYMENT.scheduler_jobs}
    assert "every check passed" in report.as_text(result)


def test_quota_that_cannot_be_read_is_reported_unchecked_with_its_fix_not_as_a_blocked_step():
    probes = Probes()
    probes.quota_error = ProbeError(
        "reading Cloud Quotas: Forbidden", "gcloud services enable cloudquotas.googleapis.com"
    )
    result = run_checks("test", DEPLOYMENT, STEPS, probes)
    (quota,) = [c for c in result.checks if "quota" in c.detail and c.section == "chain"]
    assert quota.ok is None and quota.fix and result.ok and not result.blocked_steps


def test_a_missing_custom_role_binding_says_how_to_create_the_role_too():
    probes = Probes()
    probes.missing_permissions.add(("flexrun-functions@p.iam.gserviceaccount.com", "aiplatform.customJobs.create"))
    result = run_checks("test", DEPLOYMENT, STEPS, probes)
    (failed,) = [c for c in result.checks if c.ok is False]
    assert not result.ok and "lacks aiplatform.customJobs.create" in failed.detail
    assert failed.fix and failed.fix.startswith(
        "gcloud projects add-iam-policy-binding p --member=serviceAccount:flexrun-functions@p.iam.gserviceaccount.com "
        "--role=projects/p/roles/flexrunJobSubmitter"
    )
    assert "gcloud iam roles create flexrunJobSubmitter --project=p" in failed.fix


def test_what_only_the_caller_lacks_is_shown_but_does_not_fail_the_project():
    probes = Probes()
    probes.missing_permissions.add((None, "pubsub.topics.publish"))
    result = run_checks("test", DEPLOYMENT, STEPS, probes)
    (failed,) = [c for c in result.checks if c.ok is False]
    assert failed.name == "you on topic run-requests" and "--member=user:YOUR_EMAIL" in (failed.fix or "")
    assert result.ok


def test_a_chain_that_cannot_be_planned_is_one_blocked_line():
    result = run_checks("test", DEPLOYMENT, [], Probes(), chain_error="us-west2 does not offer NVIDIA_L4")
    assert not result.ok and result.blocked_steps == ["fallback chain"]
    assert "✗ fallback chain: us-west2 does not offer NVIDIA_L4" in report.as_text(result)
