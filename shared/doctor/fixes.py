"""The exact command that fixes each kind of ✗ the doctor reports (gcloud lines, ready to paste)."""

from __future__ import annotations

from shared.doctor.needs import DEAD_LETTER_TOPIC, Grant, Kind, ScheduledJob, Who


def member(grant: Grant, account: str) -> str:
    return "user:YOUR_EMAIL" if grant.who is Who.YOU else f"serviceAccount:{account}"


def grant_role(grant: Grant, account: str, project: str, custom_roles: dict[str, tuple[str, ...]]) -> str:
    who = f"--member={member(grant, account)} --role={grant.role}"
    command = {
        Kind.PROJECT: f"gcloud projects add-iam-policy-binding {project} {who}",
        Kind.BUCKET: f"gcloud storage buckets add-iam-policy-binding gs://{grant.resource} {who}",
        Kind.TOPIC: f"gcloud pubsub topics add-iam-policy-binding {grant.resource} --project={project} {who}",
        Kind.SECRET: f"gcloud secrets add-iam-policy-binding {grant.resource} --project={project} {who}",
    }[grant.kind]
    if grant.role in custom_roles:
        # A custom role: the binding fails until the role exists (deploy/README.md creates it once).
        role_id = grant.role.rsplit("/", 1)[1]
        command += (
            f"\n  (once per project: gcloud iam roles create {role_id} --project={project} "
            f"--permissions={','.join(custom_roles[grant.role])})"
        )
    return command


def token_creator(account: str, project: str) -> str:
    return (
        f"gcloud iam service-accounts add-iam-policy-binding {account} --project={project} "
        "--member=user:YOUR_EMAIL --role=roles/iam.serviceAccountTokenCreator"
    )


def enable_api(api: str, project: str) -> str:
    return f"gcloud services enable {api} --project={project}"


def create_bucket(bucket: str, project: str, region: str) -> str:
    return (
        f"gcloud storage buckets create gs://{bucket} --project={project} --location={region} "
        "--uniform-bucket-level-access"
    )


def create_topic(topic: str, project: str) -> str:
    return f"gcloud pubsub topics create {topic} --project={project}"


def create_subscription(subscription: str, project: str) -> str:
    return (
        f"gcloud pubsub subscriptions create {subscription} --topic={DEAD_LETTER_TOPIC} --project={project} "
        "--message-retention-duration=7d --expiration-period=never"
    )


def deploy_functions(project: str) -> str:
    """A topic without a subscription has no trigger: the build deploys the functions and their triggers."""
    return f"gcloud builds submit --config cloudbuild.yaml --project={project}"


def create_secret(secret: str, project: str) -> str:
    return f"printf '%s' \"$VALUE\" | gcloud secrets create {secret} --data-file=- --project={project}"


def create_scheduler_job(job: ScheduledJob, project: str, region: str) -> str:
    attributes = ",".join(f"{key}={value}" for key, value in job.attributes.items())
    return (
        f"gcloud scheduler jobs create pubsub {job.job_id} --project={project} --location={region} "
        f"--schedule='{job.cron}' --time-zone={job.time_zone} --topic={job.topic} "
        f"--message-body='{job.body}'" + (f" --attributes={attributes}" if attributes else "")
    )
