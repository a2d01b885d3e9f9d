"""The project-APIs stand-in: started with what a correctly set-up project has, so a fresh local cloud
passes `flexrun doctor`; tests then take things away (a quota, an API, a role, a secret)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deploy import doctor_needs
from local.services.processes import ManagedProcess, free_port, http_probe
from shared.config.settings import Settings
from shared.doctor import needs
from shared.quotas import metrics

LOCAL_GPU_QUOTA = 16  # every GPU metric, every region: enough for any machine of the catalog (a2-megagpu-16g)
# Other Vertex AI quotas, so a reader must pick its GPU metrics out of more than one page of answers.
OTHER_QUOTAS = (
    "custom_model_training_cpus",
    "custom_model_training_a2_cpus",
    "custom_model_training_g2_cpus",
    "custom_model_training_pd_ssd",
    "online_prediction_requests_per_base_model",
    "resource_management_requests",
)


def _quota_id(metric: str) -> str:
    """`..._preemptible_nvidia_l4_gpus` → `CustomModelTrainingPreemptibleNvidiaL4GpusPerProjectPerRegion`."""
    return "".join(part.capitalize() for part in metric.split("/", 1)[1].split("_")) + "PerProjectPerRegion"


def _resource(kind: needs.Kind, name: str, project: str) -> str:
    return {
        needs.Kind.PROJECT: f"projects/{project}",
        needs.Kind.BUCKET: f"projects/_/buckets/{name}",
        needs.Kind.TOPIC: f"projects/{project}/topics/{name}",
        needs.Kind.SECRET: f"projects/{project}/secrets/{name}",
    }[kind]


def initial_state(env: Mapping[str, str]) -> dict[str, Any]:
    settings = Settings.model_validate({key.lower(): value for key, value in env.items()})
    deployment = doctor_needs.deployment(settings, local=True)
    project, caller = settings.gcp_project_id, "user:developer@example.com"
    all_metrics = [*metrics.gpu_quota_metrics(), *(f"{metrics.SERVICE}/{m}" for m in OTHER_QUOTAS)]
    bindings = [
        {
            "resource": _resource(grant.kind, grant.resource, project),
            "role": grant.role,
            "member": caller if grant.who is needs.Who.YOU else f"serviceAccount:{deployment.identities[grant.who]}",
        }
        for grant in deployment.grants
    ]
    for role in ("roles/viewer", "roles/iam.serviceAccountTokenCreator", "roles/serviceusage.serviceUsageViewer"):
        bindings.append({"resource": f"projects/{project}", "role": role, "member": caller})
    return {
        "project": project,
        "caller": caller,
        "services": sorted({api for api, _ in deployment.apis} | {"serviceusage.googleapis.com",
                                                                   "cloudresourcemanager.googleapis.com"}),
        "quotas": [
            {"quota_id": _quota_id(m), "metric": m, "service": metrics.SERVICE, "values": {"": LOCAL_GPU_QUOTA}}
            for m in all_metrics
        ],
        "roles": {role: list(permissions) for role, permissions in deployment.custom_roles.items()},
        "bindings": bindings,
        "service_accounts": sorted(deployment.identities.values()),
        "secrets": list(deployment.secrets),
        "scheduler_jobs": [
            {
                "name": f"projects/{project}/locations/{deployment.region}/jobs/{job.job_id}",
                "schedule": job.cron,
                "time_zone": job.time_zone,
                "topic": f"projects/{project}/topics/{job.topic}",
                "attributes": job.attributes,
            }
            for job in deployment.scheduler_jobs
        ],
    }  # fmt: skip


def start_projectapis(state_dir: Path, repo_root: Path, state: dict[str, Any]) -> tuple[ManagedProcess, str]:
    port = free_port()
    state_file = state_dir / "projectapis-state.json"
    state_file.write_text(json.dumps(state, indent=1))
    argv = [sys.executable, "-m", "local.standins.projectapis", "--port", str(port), "--state", str(state_file)]
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    process = ManagedProcess(name="projectapis", argv=argv, state_dir=state_dir, env=env, cwd=repo_root)
    url = f"http://127.0.0.1:{port}"
    process.start(http_probe(f"{url}/healthz"), timeout=20)
    return process, url
