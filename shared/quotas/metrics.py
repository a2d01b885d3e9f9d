"""The Vertex AI quota a fallback step consumes: GPU type × strategy → Cloud Quotas metric.

A custom training job counts against Vertex AI's own per-region GPU quotas (service
`aiplatform.googleapis.com`), not Compute Engine's. DWS (`FLEX_START`) and Spot jobs use the
*preemptible* quota: `custom_model_training_preemptible_nvidia_<gpu>_gpus`; on-demand (`STANDARD`) jobs
`custom_model_training_nvidia_<gpu>_gpus` (google-facts.md, "DWS quota"; Vertex AI quotas page).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.jobs import catalog

SERVICE = "aiplatform.googleapis.com"
# AcceleratorType name → the GPU part of the quota metric, as the Vertex AI quotas page names them.
_METRIC_GPU = {
    "NVIDIA_TESLA_T4": "nvidia_t4",
    "NVIDIA_L4": "nvidia_l4",
    "NVIDIA_TESLA_A100": "nvidia_a100",
    "NVIDIA_A100_80GB": "nvidia_a100_80gb",
    "NVIDIA_H100_80GB": "nvidia_h100",
    "NVIDIA_H100_MEGA_80GB": "nvidia_h100_mega",
    "NVIDIA_H200_141GB": "nvidia_h200",
    "NVIDIA_B200": "nvidia_b200",
}
PREEMPTIBLE_STRATEGIES = frozenset({"FLEX_START", "SPOT"})
CONSOLE_QUOTAS = "https://console.cloud.google.com/iam-admin/quotas"  # a page for people; flexrun never calls it


@dataclass(frozen=True)
class QuotaNeed:
    """What one step needs: `count` GPUs of `metric` in `region`."""

    metric: str  # full name, e.g. aiplatform.googleapis.com/custom_model_training_preemptible_nvidia_l4_gpus
    region: str
    count: int
    gpu_type: str
    strategy: str

    @property
    def short_gpu(self) -> str:
        return short_gpu(self.gpu_type)

    @property
    def kind(self) -> str:
        return "preemptible" if self.strategy in PREEMPTIBLE_STRATEGIES else "on-demand"

    def request_url(self, project: str) -> str:
        """The console's quota page filtered to this metric (where a person requests more)."""
        return f"{CONSOLE_QUOTAS}?project={project}&service={SERVICE}&metric={self.metric.split('/', 1)[1]}"

    def request_command(self, project: str, quota_id: str | None) -> str:
        """The Cloud Quotas request as one gcloud line (a QuotaPreference for this region)."""
        quota = quota_id or "QUOTA_ID"
        return (
            f"gcloud quotas preferences create --project={project} --service={SERVICE} "
            f"--quota-id={quota} --preferred-value={self.count} --dimensions=region={self.region} "
            f"--preference-id=flexrun-{self.metric.rsplit('/', 1)[1].replace('_', '-')}-{self.region} "
            "--justification='flexrun training jobs'"
        )


def short_gpu(gpu_type: str) -> str:
    """`L4`, `A100`: the name people use, in Slack and in the doctor's lines."""
    aliases = {full: short for short, full in catalog.GPU_ALIASES.items() if not short.startswith("NVIDIA")}
    canonical = catalog.canonical_gpu(gpu_type)
    return aliases.get(canonical, canonical)


def quota_need(gpu_type: str, gpu_count: int, region: str, strategy: str) -> QuotaNeed | None:
    """None for a GPU the metric table does not know (then no quota check is made for it)."""
    gpu = _METRIC_GPU.get(catalog.canonical_gpu(gpu_type))
    if gpu is None:
        return None
    kind = "preemptible_" if strategy in PREEMPTIBLE_STRATEGIES else ""
    return QuotaNeed(
        metric=f"{SERVICE}/custom_model_training_{kind}{gpu}_gpus",
        region=region,
        count=gpu_count,
        gpu_type=catalog.canonical_gpu(gpu_type),
        strategy=strategy,
    )


def gpu_quota_metrics() -> list[str]:
    """Every GPU metric flexrun can consume (both kinds), for the snapshot and the local stand-in."""
    return [
        f"{SERVICE}/custom_model_training_{kind}{gpu}_gpus"
        for gpu in _METRIC_GPU.values()
        for kind in ("", "preemptible_")
    ]
