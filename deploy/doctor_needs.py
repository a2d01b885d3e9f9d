"""The deploy's own data as the doctor checks it: deploy/iam.py's bindings, deploy/spec.py's schedules.

A binding becomes a `testIamPermissions` check on its resource, asking for the permissions the
identity's calls need from that role. Left out: bindings IAM cannot answer that way — service agents
and the sink's writer (Google-managed, not impersonable), the build's account (the build itself fails
loudly), a function's invoker (a Cloud Run service, which the doctor does not read) and a binding
conditioned on object prefixes (a bucket-level test cannot evaluate the condition).
"""

from __future__ import annotations

from deploy import generate, iam, spec
from deploy.cloudbuild import substitute
from shared.config.settings import Settings
from shared.doctor import needs
from shared.doctor.needs import Grant, Kind, ScheduledJob, Who

_WHO = {iam.Identity.FUNCTIONS: Who.FUNCTIONS, iam.Identity.INVOKER: Who.INVOKER, iam.Identity.TRAINER: Who.TRAINER}


def _values(project: str, region: str) -> dict[str, str]:
    defaults = {name: default for name, default, *_ in generate.SUBSTITUTIONS}
    return {**defaults, "PROJECT_ID": project, "_REGION": region}


def grants(project: str, bucket: str) -> tuple[Grant, ...]:
    found: list[Grant] = []
    for binding in iam.BINDINGS:
        who = _WHO.get(binding.identity)
        if who is None or binding.prefixes:
            continue
        kind, _, name = binding.on.partition(":")
        target = {"project": (Kind.PROJECT, project), "bucket": (Kind.BUCKET, bucket)}.get(kind)
        if kind in ("secret", "topic"):
            target = (Kind(kind), name)
        if target is None:
            continue
        needed = {
            call.permission for call in iam.CALLS if call.identity is binding.identity and call.role == binding.role
        }
        permissions = tuple(sorted(needed & iam.ROLE_PERMISSIONS[binding.role]))
        if permissions:
            role = binding.role.replace("${PROJECT_ID}", project)
            found.append(Grant(who, target[0], target[1], permissions, role, binding.why))
    return tuple(found)


def custom_roles(project: str) -> dict[str, tuple[str, ...]]:
    return {role.replace("${PROJECT_ID}", project): tuple(p) for role, p in iam.CUSTOM_ROLES.items()}


def secrets() -> tuple[str, ...]:
    """Every secret a deployed identity is bound to read."""
    return tuple(dict.fromkeys(b.on.partition(":")[2] for b in iam.BINDINGS if b.on.startswith("secret:")))


def schedules(project: str, region: str) -> tuple[ScheduledJob, ...]:
    values = _values(project, region)
    return tuple(
        ScheduledJob(
            job_id=substitute(s.job, values),
            cron=substitute(s.cron, values),
            time_zone=substitute(s.time_zone, values),
            body=substitute(s.message_body, values),
            topic=function.topic,
            attributes={key: substitute(value, values) for key, value in s.attributes.items()},
        )
        for function in spec.FUNCTIONS
        if (s := function.schedule) is not None
    )


def identities(settings: Settings, functions_account: str, invoker_account: str) -> dict[Who, str]:
    project = settings.gcp_project_id
    return {
        Who.FUNCTIONS: needs.account(functions_account, project),
        Who.INVOKER: needs.account(invoker_account, project),
        Who.TRAINER: settings.vertex_ai_service_account or needs.account("flexrun-trainer", project),
    }


def deployment(
    settings: Settings,
    *,
    local: bool,
    functions_account: str = "flexrun-functions",
    invoker_account: str = "flexrun-invoker",
) -> needs.Deployment:
    """What the doctor checks for the project `settings` names."""
    project = settings.gcp_project_id
    return needs.deployment(
        settings,
        grants=grants(project, settings.gcp_bucket_name),
        secrets=secrets(),
        schedules=schedules(project, settings.gcp_region),
        local=local,
        identities=identities(settings, functions_account, invoker_account),
        custom_roles=custom_roles(project),
    )
