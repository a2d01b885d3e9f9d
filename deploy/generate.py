"""The build cloudbuild.yaml describes, generated from the deploy spec (deploy/cloudbuild_file.py writes
and checks the file: `python -m deploy cloudbuild [--check]`).

The build is a list of `BuildStep`s (`build_steps()`), in order. A step that must finish before the
functions deploy (an image build, say) is added to `build_steps()` before `deploy_steps()` and its id
to `DEPLOY_AFTER`. Every step that creates something asks first whether it exists, and every IAM
binding is an idempotent add, so the unchanged build can run again.
"""

from __future__ import annotations

from dataclasses import dataclass

from cli.schedule import load_schedule
from deploy import iam, topology
from deploy.spec import FUNCTIONS, FunctionSpec, Schedule, Trigger, service_account_email

_nightly = load_schedule()
# (name, default, comment): the build's substitutions, in the file's order.
SUBSTITUTIONS: tuple[tuple[str, str, str], ...] = (
    ("_REGION", "us-central1", "functions, triggers, scheduler and Vertex AI jobs; the bucket's region"),
    ("_BUCKET", "${PROJECT_ID}-flexrun-packages", "the package bucket"),
    ("_STAGING_BUCKET", "", "job outputs; empty: the package bucket"),
    ("_MACHINE_TYPE", "a2-highgpu-1g", "default hardware of a run (a run message may override it)"),
    ("_GPU_TYPE", "NVIDIA_TESLA_A100", ""),
    ("_SCHEDULE", _nightly.cron, "the nightly run; defaults from deploy/schedule.json"),
    ("_TIME_ZONE", _nightly.time_zone, ""),
    ("_SCHEDULE_NAME", _nightly.name, ""),
    ("_RUN_MESSAGE", _nightly.body.decode(), ""),
    ("_RECONCILE_SCHEDULE", "*/10 * * * *", "how often the reconciler reads the jobs of open runs"),
    ("_FUNCTIONS_SA", "flexrun-functions", "service account ids (deploy/README.md, deploy/iam.py)"),
    ("_INVOKER_SA", "flexrun-invoker", ""),
    ("_TRAINER_SA", "flexrun-trainer", ""),
    ("_MONGODB_SECRET", "flexrun-mongodb-url", "Secret Manager secrets"),
    ("_SUPABASE_URL_SECRET", "flexrun-supabase-url", ""),
    ("_SUPABASE_KEY_SECRET", "flexrun-supabase-key", ""),
    ("_SLACK_SECRET", "flexrun-slack-webhook-url", ""),
    ("_MAX_INSTANCES", "5", ""),
    ("_MAX_DELIVERY_ATTEMPTS", "10", ""),
    ("_SDK_IMAGE", "gcr.io/google.com/cloudsdktool/google-cloud-cli:slim", ""),
    ("_PYTHON_IMAGE", "python:3.12-slim", ""),
    ("_DOCKER_IMAGE", "gcr.io/cloud-builders/docker", ""),
    ("_IMAGE_REPOSITORY", "flexrun", "the trainer image (image/): Artifact Registry repository in _REGION"),
    # Must be the tag shared/jobs/gpu_catalog.json names (tests/deploy/test_image_build.py checks it).
    ("_TRAINER_IMAGE_TAG", "tf2.21.0-py3.11", "changes with image/requirements.lock's TensorFlow and Python"),
)
SDK = "${_SDK_IMAGE}"
PYTHON = "${_PYTHON_IMAGE}"
INVOKER = "serviceAccount:" + service_account_email("${_INVOKER_SA}")
PUBSUB_AGENT = "serviceAccount:service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
SINK = "flexrun-job-events"
SINK_FILTER = 'resource.type="ml_job" AND resource.labels.task_name="service"'
# Steps every function deploy waits for; a step added before the deploys adds its id here.
DEPLOY_AFTER: list[str] = ["bundles", "topics", "image"]
TRAINER_IMAGE = "${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_IMAGE_REPOSITORY}/trainer:${_TRAINER_IMAGE_TAG}"


@dataclass(frozen=True)
class BuildStep:
    id: str
    image: str
    script: str  # a bash script, run with `set -euo pipefail`
    wait_for: tuple[str, ...] = ()
    comment: str = ""  # written above the step


def deploy_step_id(spec: FunctionSpec) -> str:
    return f"deploy-{spec.name}"


def build_steps() -> list[BuildStep]:
    return [
        test_step(),
        bundles_step(),
        *image_steps(),
        topics_step(),
        *deploy_steps(),
        dead_letter_step(),
        upload_trainer_step(),
        *schedule_steps(),
        log_sink_step(),
    ]


def test_step() -> BuildStep:
    return BuildStep(
        "test",
        PYTHON,
        "python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt\n"
        'python -m pytest -q -m "not integration" tests/unit tests/deploy\n',
        comment="Server-free tests: unit tests and the deploy checks (bundles installed in clean venvs). The local\n"
        "cloud's integration tests need the Pub/Sub emulator and run in CI (`make test`), not here.",
    )


def bundles_step() -> BuildStep:
    return BuildStep(
        "bundles",
        PYTHON,
        'python -m pip install --quiet --disable-pip-version-check "pyyaml>=6.0" "build>=1.2.2"\n'
        "python -m deploy bundle --out build/functions\n"
        "python -m build --sdist --outdir dist/trainer trainer/\n",
        wait_for=("test",),
    )


def image_steps() -> list[BuildStep]:
    """The trainer image every job runs (containerSpec): pushed before any function that may name it deploys."""
    repository = (
        "gcloud artifacts repositories describe ${_IMAGE_REPOSITORY} --location=${_REGION} >/dev/null 2>&1 || "
        "gcloud artifacts repositories create ${_IMAGE_REPOSITORY} --repository-format=docker --location=${_REGION} "
        '--description="flexrun trainer images"\n'
    )
    build = f"docker build --file image/Dockerfile --tag {TRAINER_IMAGE} .\ndocker push {TRAINER_IMAGE}\n"
    return [
        BuildStep("image-repository", SDK, repository, wait_for=("test",)),
        BuildStep("image", "${_DOCKER_IMAGE}", build, wait_for=("image-repository",)),
    ]


def _topics() -> list[str]:
    seen = dict.fromkeys(spec.topic for spec in FUNCTIONS if spec.trigger is Trigger.TOPIC)
    return [*seen, topology.DEAD_LETTER_TOPIC]


def topics_step() -> BuildStep:
    lines = [f"gcloud pubsub topics describe {t} >/dev/null 2>&1 || gcloud pubsub topics create {t}" for t in _topics()]
    hold = f"{topology.DEAD_LETTER_TOPIC}-hold"
    lines += [
        "# Poison events land here after _MAX_DELIVERY_ATTEMPTS; a pull subscription keeps them 7 days.",
        f"gcloud pubsub subscriptions describe {hold} >/dev/null 2>&1 || gcloud pubsub subscriptions create {hold} "
        f"--topic={topology.DEAD_LETTER_TOPIC} --message-retention-duration=7d --expiration-period=never",
    ]
    for binding in iam.BINDINGS:  # the functions' own topic grants (the agents' are in their steps)
        if binding.by is iam.By.BUILD and binding.identity is iam.Identity.FUNCTIONS:
            topic = binding.on.removeprefix("topic:")
            lines.append(
                f"gcloud pubsub topics add-iam-policy-binding {topic} --member={iam.MEMBERS[binding.identity]} \\\n"
                f"  --role={binding.role} --quiet >/dev/null  # {binding.why}"
            )
    return BuildStep("topics", SDK, "\n".join(lines) + "\n", wait_for=("test",))


def _pairs(items: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in items.items())


def deploy_command(spec: FunctionSpec) -> list[str]:
    """`gcloud functions deploy` for one function, one flag group per line."""
    trigger = "--trigger-bucket=${_BUCKET}" if spec.trigger is Trigger.BUCKET else f"--trigger-topic={spec.topic}"
    lines = [
        f"gcloud functions deploy {spec.name} --gen2 --runtime=python312 --region=${{_REGION}}",
        f"--source=build/functions/{spec.name} --entry-point={spec.target}",
        f"{trigger}{' --retry' if spec.retry else ''}",
        f"--trigger-service-account={service_account_email('${_INVOKER_SA}')}",
        f"--service-account={service_account_email(spec.service_account)}",
        f"--memory={spec.memory} --cpu={spec.cpu} --timeout={spec.timeout_seconds}s "
        f"--max-instances={spec.max_instances} --concurrency={spec.concurrency}",
        # No --[no-]allow-unauthenticated: on an existing function either one calls setIamPolicy (see
        # deploy/README.md); internal-only ingress and no public binding keep it private.
        "--ingress-settings=internal-only",
        f"--set-env-vars={_pairs(dict(spec.env))}",
    ]
    if spec.secrets:
        lines.append("--set-secrets=" + ",".join(f"{s.env}={s.secret}:{s.version}" for s in spec.secrets))
    lines.append("--quiet")
    return lines


_INVOKER_NOTE = "# Eventarc calls the function as the invoker; gcloud does not grant it (an idempotent add)."


def deploy_steps() -> list[BuildStep]:
    steps = []
    for spec in FUNCTIONS:
        command = " \\\n  ".join(deploy_command(spec))
        grant = (
            f"gcloud functions add-invoker-policy-binding {spec.name} --region=${{_REGION}} --member={INVOKER} "
            "--quiet >/dev/null"
        )
        steps.append(
            BuildStep(
                deploy_step_id(spec),
                SDK,
                f"{command}\n{_INVOKER_NOTE}\n{grant}\n",
                wait_for=tuple(DEPLOY_AFTER),
            )
        )
    return steps


def dead_letter_step() -> BuildStep:
    names = " ".join(spec.name for spec in FUNCTIONS)
    dead = topology.DEAD_LETTER_TOPIC
    trigger_of = "--format='value(eventTrigger.trigger)'"
    subscription_of = "--format='value(transport.pubsub.subscription)'"
    script = f"""\
gcloud pubsub topics add-iam-policy-binding {dead} \\
  --member={PUBSUB_AGENT} --role=roles/pubsub.publisher --quiet >/dev/null
for name in {names}; do
  TRIGGER=$$(gcloud functions describe "$$name" --v2 --region=${{_REGION}} {trigger_of})
  SUBSCRIPTION=$$(gcloud eventarc triggers describe "$${{TRIGGER##*/}}" --location=${{_REGION}} {subscription_of})
  gcloud pubsub subscriptions update "$$SUBSCRIPTION" \\
    --dead-letter-topic={dead} --max-delivery-attempts=${{_MAX_DELIVERY_ATTEMPTS}}
  gcloud pubsub subscriptions add-iam-policy-binding "$$SUBSCRIPTION" \\
    --member={PUBSUB_AGENT} --role=roles/pubsub.subscriber --quiet >/dev/null
done
"""
    return BuildStep(
        "dead-letter",
        SDK,
        script,
        wait_for=tuple(deploy_step_id(spec) for spec in FUNCTIONS),
        comment="Each trigger's Eventarc subscription gets the dead-letter topic: an event that fails\n"
        "_MAX_DELIVERY_ATTEMPTS times is parked instead of retried until Pub/Sub's 7-day limit.",
    )


def upload_trainer_step() -> BuildStep:
    validate = next(spec for spec in FUNCTIONS if spec.trigger is Trigger.BUCKET)
    return BuildStep(
        "upload-trainer",
        SDK,
        "gcloud storage cp --no-clobber dist/trainer/flexrun_trainer-*.tar.gz gs://${_BUCKET}/packages/\n",
        wait_for=(deploy_step_id(validate),),
        comment="After validate-package is deployed and its invoker granted, so its finalize event is delivered.\n"
        "An unchanged version is not uploaded again (--no-clobber): bump trainer/pyproject.toml's version.",
    )


def _schedule_command(spec: FunctionSpec, schedule: Schedule, verb: str) -> str:
    lines = [
        f"gcloud scheduler jobs {verb} pubsub {schedule.job} --location=${{_REGION}} --topic={spec.topic}",
        f"--schedule='{schedule.cron}' --time-zone={schedule.time_zone}",
        f"--message-body='{schedule.message_body}'",
    ]
    if schedule.attributes:
        flag = "--attributes" if verb == "create" else "--update-attributes"
        lines.append(f"{flag}={_pairs(dict(schedule.attributes))}")
    return " \\\n    ".join(lines)


def schedule_steps() -> list[BuildStep]:
    steps = []
    for spec in FUNCTIONS:
        if spec.schedule is None:
            continue
        job = spec.schedule.job
        script = (
            f"if gcloud scheduler jobs describe {job} --location=${{_REGION}} >/dev/null 2>&1; then\n"
            f"  {_schedule_command(spec, spec.schedule, 'update')}\n"
            "else\n"
            f"  {_schedule_command(spec, spec.schedule, 'create')}\n"
            "fi\n"
        )
        steps.append(
            BuildStep(
                f"schedule-{spec.name}",
                SDK,
                script,
                wait_for=(deploy_step_id(spec),),
                comment=_SCHEDULE_NOTES[spec.name],
            )
        )
    return steps


_SCHEDULE_NOTES = {
    "submit-run": "The nightly run. The attribute schedule=NAME is how submit-run keys scheduled runs (one run per\n"
    "tick, however often Pub/Sub redelivers it).",
    "reconcile-runs": "The reconciler's tick: runs whose jobs ended without a log line (cancelled while pending,\n"
    "a DWS max-wait expiry) are only ever finished by it.",
}


def log_sink_step() -> BuildStep:
    destination = f"pubsub.googleapis.com/projects/${{PROJECT_ID}}/topics/{topology.JOB_EVENTS_TOPIC}"
    script = f"""\
if gcloud logging sinks describe {SINK} >/dev/null 2>&1; then
  gcloud logging sinks update {SINK} {destination} \\
    --log-filter='{SINK_FILTER}'
else
  gcloud logging sinks create {SINK} {destination} \\
    --log-filter='{SINK_FILTER}'
fi
WRITER=$$(gcloud logging sinks describe {SINK} --format='value(writerIdentity)')
gcloud pubsub topics add-iam-policy-binding {topology.JOB_EVENTS_TOPIC} --member="$$WRITER" \\
  --role=roles/pubsub.publisher --quiet >/dev/null
"""
    return BuildStep(
        "log-sink",
        SDK,
        script,
        wait_for=("topics",),
        comment="Vertex AI writes a custom job's state changes to its service log; the sink forwards exactly those.",
    )
