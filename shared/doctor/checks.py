"""`flexrun doctor`'s checks: each step of the chain, the APIs, the resources, each identity's permissions.

Pure logic over a `Probes` object (the Google client calls live in cli/doctor_google.py, outside
shared/, so no function bundle carries the doctor's client libraries). Every ✗ carries its fix.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel

from shared.doctor import fixes
from shared.doctor.needs import Deployment, Grant, Kind, Who
from shared.jobs import catalog
from shared.quotas.metrics import quota_need, short_gpu
from shared.quotas.snapshot import QuotaSnapshot


class ProbeError(Exception):
    """A probe could not answer (the doctor's own access, an impersonation refused); `fix` says how."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


class Probes(Protocol):
    def gpu_quotas(self) -> QuotaSnapshot: ...
    def enabled_services(self) -> set[str]: ...
    def held_permissions(self, account: str | None, kind: Kind, resource: str, wanted: tuple[str, ...]) -> set[str]: ...
    def bucket_exists(self, bucket: str) -> bool: ...
    def topic_subscriptions(self, topic: str) -> list[str] | None: ...  # None: no such topic
    def subscription_exists(self, subscription: str) -> bool: ...
    def secret_exists(self, secret: str) -> bool: ...
    def scheduler_job_exists(self, region: str, job_id: str) -> bool: ...


class Check(BaseModel):
    section: str  # "chain" | "apis" | "resources" | "permissions"
    name: str
    ok: bool | None  # None: could not be checked (says why in `detail`)
    detail: str
    fix: str | None = None
    blocking: bool = True  # a ✗ here keeps runs from ever happening
    step: int | None = None  # chain checks: the attempt number of the step


class Report(BaseModel):
    target: str
    project: str
    checks: list[Check]

    @property
    def blocked_steps(self) -> list[str]:
        return list(dict.fromkeys(c.name for c in self.checks if c.section == "chain" and c.ok is False))

    @property
    def ok(self) -> bool:
        return not any(c.ok is False and c.blocking for c in self.checks)


def _guarded(section: str, name: str, probe: Callable[[], Check], blocking: bool = True) -> Check:
    try:
        return probe()
    except ProbeError as exc:
        return Check(section=section, name=name, ok=False, detail=str(exc), fix=exc.fix, blocking=blocking)


def chain_checks(steps: list[Any], probes: Probes, project: str, replicas: int = 1) -> list[Check]:
    """Per step (fallback.Resolved): the region offers the GPU (catalog) and the quota covers its GPUs
    on every one of the run's `replicas`."""
    try:
        snapshot: QuotaSnapshot | None = probes.gpu_quotas()
        quota_error: ProbeError | None = None
    except ProbeError as exc:
        snapshot, quota_error = None, exc
    checks = []
    for number, step in enumerate(steps, start=1):
        name = f"step {number} {step.gpu_count}x {short_gpu(step.gpu_type)} @ {step.region} {step.strategy}"
        offered = catalog.region_offers(step.gpu_type, step.region)
        if offered is None:
            detail = f"the GPU catalog's region table cannot tell whether {step.region} offers {step.gpu_type}"
            checks.append(Check(section="chain", name=name, ok=None, step=number, blocking=False, detail=detail))
        else:
            regions = ", ".join(catalog.gpu_entry(step.gpu_type).get("regions") or [])
            checks.append(Check(
                section="chain", name=name, ok=offered, step=number,
                detail=f"{step.region} {'offers' if offered else 'does not offer'} {step.gpu_type} for training",
                fix=None if offered else f"use a region that offers it: {regions}",
            ))  # fmt: skip
        checks.append(_quota_check(name, number, step, snapshot, quota_error, project, replicas))
    return checks


def _quota_check(
    name: str,
    number: int,
    step: Any,
    snapshot: QuotaSnapshot | None,
    error: ProbeError | None,
    project: str,
    replicas: int,
) -> Check:
    need = quota_need(step.gpu_type, step.gpu_count * replicas, step.region, step.strategy)
    if need is None:
        return Check(section="chain", name=name, ok=None, step=number, blocking=False,
                     detail=f"no Vertex AI quota metric known for {step.gpu_type}: quota not checked")  # fmt: skip
    label = f"{need.kind} {need.short_gpu} quota in {need.region}"
    if snapshot is None:
        assert error is not None
        return Check(section="chain", name=name, ok=None, step=number, blocking=False,
                     detail=f"{label}: not read ({error})", fix=error.fix)  # fmt: skip
    limit = snapshot.limit(need.metric, need.region)
    command = need.request_command(project, snapshot.quota_id(need.metric))
    fix = f"request it at {need.request_url(project)}\n  or: {command}"
    if limit is None:
        return Check(section="chain", name=name, ok=None, step=number, blocking=False,
                     detail=f"{label}: Cloud Quotas has no {need.metric}", fix=fix)  # fmt: skip
    ok = limit < 0 or limit >= need.count
    shown = "unlimited" if limit < 0 else str(limit)
    return Check(
        section="chain", name=name, ok=ok, step=number,
        detail=f"{label}: {shown}" + ("" if ok else f", needs {need.count} ({need.metric})"),
        fix=None if ok else fix,
    )  # fmt: skip


def api_checks(deployment: Deployment, probes: Probes) -> list[Check]:
    try:
        enabled = probes.enabled_services()
    except ProbeError as exc:
        return [Check(section="apis", name="enabled APIs", ok=None, detail=str(exc), fix=exc.fix, blocking=False)]
    return [
        Check(
            section="apis",
            name=api,
            ok=api in enabled,
            detail=f"{'enabled' if api in enabled else 'not enabled'} ({why})",
            fix=None if api in enabled else fixes.enable_api(api, deployment.project),
        )
        for api, why in deployment.apis
    ]


def _existence(name: str, present: Callable[[], bool], fix: str) -> Check:
    try:
        found = present()
    except ProbeError as exc:
        return Check(section="resources", name=name, ok=False, detail=str(exc), fix=exc.fix)
    return Check(section="resources", name=name, ok=found, detail="exists" if found else "missing",
                 fix=None if found else fix)  # fmt: skip


def resource_checks(deployment: Deployment, probes: Probes) -> list[Check]:
    p, region = deployment.project, deployment.region
    checks: list[Check] = []
    for bucket in deployment.buckets:
        found = functools.partial(probes.bucket_exists, bucket)
        checks.append(_existence(f"bucket gs://{bucket}", found, fixes.create_bucket(bucket, p, region)))
    for topic in deployment.topics:
        checks.append(_guarded("resources", f"topic {topic}", functools.partial(_topic_check, topic, probes, p)))
    for sub in deployment.subscriptions:
        found = functools.partial(probes.subscription_exists, sub)
        checks.append(_existence(f"subscription {sub}", found, fixes.create_subscription(sub, p)))
    for job in deployment.scheduler_jobs:
        found = functools.partial(probes.scheduler_job_exists, region, job.job_id)
        fix = fixes.create_scheduler_job(job, p, region)
        checks.append(_existence(f"scheduler job {job.job_id}", found, fix))
    for secret in deployment.secrets:
        found = functools.partial(probes.secret_exists, secret)
        checks.append(_existence(f"secret {secret}", found, fixes.create_secret(secret, p)))
    return checks


def _topic_check(topic: str, probes: Probes, project: str) -> Check:
    name = f"topic {topic}"
    subscriptions = probes.topic_subscriptions(topic)
    if subscriptions is None:
        return Check(section="resources", name=name, ok=False, detail="missing", fix=fixes.create_topic(topic, project))
    if not subscriptions:
        return Check(section="resources", name=name, ok=False, detail="exists, but nothing subscribes (no trigger)",
                     fix=fixes.deploy_functions(project))  # fmt: skip
    return Check(section="resources", name=name, ok=True, detail=f"exists, read by {', '.join(sorted(subscriptions))}")


def permission_checks(deployment: Deployment, probes: Probes) -> list[Check]:
    return [
        _guarded(
            "permissions",
            _grant_name(deployment, grant),
            functools.partial(_grant_check, deployment, grant, probes),
            blocking=grant.who is not Who.YOU,
        )
        for grant in deployment.grants
    ]


def _grant_name(deployment: Deployment, grant: Grant) -> str:
    who = deployment.identities.get(grant.who, "you")
    where = {Kind.PROJECT: "project ", Kind.BUCKET: "gs://", Kind.TOPIC: "topic ", Kind.SECRET: "secret "}[grant.kind]
    return f"{who} on {where}{grant.resource}"


def _grant_check(deployment: Deployment, grant: Grant, probes: Probes) -> Check:
    account = deployment.identities.get(grant.who)
    held = probes.held_permissions(account, grant.kind, grant.resource, grant.permissions)
    missing = [p for p in grant.permissions if p not in held]
    return Check(
        section="permissions",
        name=_grant_name(deployment, grant),
        ok=not missing,
        detail=(f"holds {', '.join(grant.permissions)}" if not missing else f"lacks {', '.join(missing)}")
        + f" ({grant.why})",
        fix=fixes.grant_role(grant, account or "", deployment.project, deployment.custom_roles) if missing else None,
        blocking=grant.who is not Who.YOU,
    )


def chain_refused(error: str) -> Check:
    """A chain that cannot even be planned (a GPU its region lacks, a bad step): no step of it can run."""
    fix = "edit FLEXRUN_FALLBACK_CHAIN (shared/runs/fallback.py has its grammar) or deploy/schedule.json's message"
    return Check(section="chain", name="fallback chain", ok=False, detail=error, fix=fix)


def run_checks(
    target: str,
    deployment: Deployment,
    steps: list[Any],
    probes: Probes,
    chain_error: str | None = None,
    replicas: int = 1,
) -> Report:
    chain = [chain_refused(chain_error)] if chain_error else chain_checks(steps, probes, deployment.project, replicas)
    checks = [
        *chain,
        *api_checks(deployment, probes),
        *resource_checks(deployment, probes),
        *permission_checks(deployment, probes),
    ]
    return Report(target=target, project=deployment.project, checks=checks)
