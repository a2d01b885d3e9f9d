"""cloudbuild.yaml deploys what the local cloud runs: the same functions, triggers, topics and secrets."""

from __future__ import annotations

import json
import re

import pytest

from cli.schedule import load_schedule
from deploy import cloudbuild, code_scan
from deploy.spec import FUNCTIONS
from deploy.topology import JOB_EVENTS_TOPIC, RECONCILE_REQUESTS_TOPIC, RUN_REQUESTS_TOPIC, STORAGE_FINALIZED
from shared.config.settings import Settings
from tests.deploy.conftest import TEST_BUCKET, TEST_PROJECT

# Which secret each function reads; every one of them comes from Secret Manager. The run stores'
# settings (Supabase's URL too: the original team kept it in a secret store) for every function that
# records runs, Slack's for every function that posts.
STORES = {"MONGODB_URL", "SUPABASE_URL", "SUPABASE_KEY"}
SECRETS_NEEDED = {
    "validate-package": {"SLACK_WEBHOOK_URL"},
    "submit-run": STORES | {"SLACK_WEBHOOK_URL"},  # a run refused for quota is announced there
    "job-state": STORES | {"SLACK_WEBHOOK_URL"},
    "reconcile-runs": STORES | {"SLACK_WEBHOOK_URL"},
}
SECRET_SETTINGS = {
    name.upper() for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)
}
SINK_FILTER = 'resource.type="ml_job" AND resource.labels.task_name="service"'


def _deploy_of(invocations, name):
    found = [i for i in invocations if i.words()[:3] == ("functions", "deploy", name)]
    assert len(found) == 1, f"{name} is deployed {len(found)} times"
    return found[0].flags()


def _pairs(value: str | None) -> dict[str, str]:
    return dict(item.split("=", 1) for item in (value or "").split(",") if item)


def test_cloudbuild_yaml_parses_and_every_substitution_is_declared_and_used():
    config = cloudbuild.load()
    declared = set(config["substitutions"])
    steps_text = json.dumps(config["steps"])
    used = set(re.findall(r"(?<!\$)\$\{?(_[A-Z0-9_]+)", steps_text))
    assert {"_REGION", "_BUCKET", "_SCHEDULE"} <= declared
    assert used <= declared, f"used but not declared: {used - declared}"
    # Cloud Build refuses a build whose declared substitutions are not all used.
    assert declared <= used, f"declared but never used: {declared - used}"
    assert config["options"]["dynamicSubstitutions"] is True


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_each_function_is_deployed_gen2_with_its_entry_point_trigger_and_retry(invocations, spec):
    flags = _deploy_of(invocations, spec.name)
    assert "--gen2" in flags and "--retry" in flags
    assert flags["--runtime"] == "python312"
    assert flags["--entry-point"] == spec.target
    assert flags["--source"] == f"build/functions/{spec.name}"
    if spec.event_type == STORAGE_FINALIZED:
        assert flags["--trigger-bucket"] == TEST_BUCKET and "--trigger-topic" not in flags
    else:
        assert flags["--trigger-topic"] == spec.topic and "--trigger-bucket" not in flags
    for sized in ("--memory", "--timeout", "--max-instances", "--concurrency"):
        assert flags[sized], f"{spec.name} has no {sized}"


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_each_function_runs_as_its_own_service_account_with_secrets_from_secret_manager(invocations, spec):
    flags = _deploy_of(invocations, spec.name)
    assert flags["--service-account"] == f"flexrun-functions@{TEST_PROJECT}.iam.gserviceaccount.com"
    assert flags["--trigger-service-account"] == f"flexrun-invoker@{TEST_PROJECT}.iam.gserviceaccount.com"
    secrets = _pairs(flags.get("--set-secrets"))
    assert set(secrets) == SECRETS_NEEDED[spec.name]
    assert all(re.fullmatch(r"flexrun-[a-z-]+:(latest|\d+)", ref) for ref in secrets.values()), secrets
    env = _pairs(flags.get("--set-env-vars"))
    assert not set(env) & SECRET_SETTINGS, "a secret must never be a plain environment variable"
    assert env["GCP_PROJECT_ID"] == TEST_PROJECT and env.get("GCP_BUCKET_NAME", TEST_BUCKET) == TEST_BUCKET


# The functions whose code can reach `create_custom_job` (deploy/code_scan.py): each must name the trainer.
JOB_CREATORS = [
    spec.name
    for spec in FUNCTIONS
    if code_scan.method_calls(spec.source, spec.target, frozenset({"create_custom_job"}))
]


def test_only_submit_run_can_create_a_job():
    assert JOB_CREATORS == ["submit-run"]


@pytest.mark.parametrize("name", JOB_CREATORS)
def test_every_function_that_can_create_a_job_names_the_trainers_own_service_account(invocations, name):
    env = _pairs(_deploy_of(invocations, name).get("--set-env-vars"))
    assert env["VERTEX_AI_SERVICE_ACCOUNT"] == f"flexrun-trainer@{TEST_PROJECT}.iam.gserviceaccount.com"


def test_the_topics_the_functions_read_are_created(invocations):
    created = {i.words()[3] for i in invocations if i.words()[:3] == ("pubsub", "topics", "create")}
    assert {RUN_REQUESTS_TOPIC, JOB_EVENTS_TOPIC, RECONCILE_REQUESTS_TOPIC, "flexrun-dead-letter"} <= created


def _nightly(invocations, verb):
    return [
        i
        for i in invocations
        if i.words()[:4] == ("scheduler", "jobs", verb, "pubsub") and i.flags()["--topic"] == RUN_REQUESTS_TOPIC
    ]


def test_the_nightly_schedule_publishes_a_run_message_keyed_by_its_schedule_attribute(invocations):
    create, update = _nightly(invocations, "create"), _nightly(invocations, "update")
    assert len(create) == len(update) == 1
    for invocation, attribute_flag in ((create[0], "--attributes"), (update[0], "--update-attributes")):
        flags = invocation.flags()
        assert flags["--topic"] == RUN_REQUESTS_TOPIC
        assert flags["--schedule"] == load_schedule().cron
        assert _pairs(flags[attribute_flag]) == {"schedule": "nightly"}
        assert flags["--message-body"].startswith("{")


def test_the_log_sink_forwards_vertex_job_service_logs_and_its_writer_may_publish(invocations, steps):
    destination = f"pubsub.googleapis.com/projects/{TEST_PROJECT}/topics/{JOB_EVENTS_TOPIC}"
    for verb in ("create", "update"):
        (sink,) = [i for i in invocations if i.words()[:3] == ("logging", "sinks", verb)]
        assert sink.words()[3:] == ("flexrun-job-events", destination)
        assert sink.flags()["--log-filter"] == SINK_FILTER
    (grant,) = [i for i in invocations if i.words() == ("pubsub", "topics", "add-iam-policy-binding", "job-events")]
    assert grant.flags() == {"--member": "$WRITER", "--role": "roles/pubsub.publisher", "--quiet": None}
    script = next(step.script for step in steps if step.id == "log-sink")
    assert "WRITER=$(gcloud logging sinks describe flexrun-job-events --format='value(writerIdentity)')" in script


def _resource(words: tuple[str, ...]) -> tuple[tuple[str, ...], str, str] | None:
    """(command group, verb, resource name) of a describe/create call; None for other verbs."""
    verbs = [index for index, word in enumerate(words) if word in ("create", "describe")]
    if not verbs:
        return None
    at = verbs[0]
    rest = [word for word in words[at + 1 :] if word != "pubsub"]  # `scheduler jobs create pubsub NAME`
    return words[:at], words[at], rest[0]


def test_every_create_is_guarded_by_a_describe_of_the_same_resource(steps):
    """Re-running the build must succeed: nothing is created without first asking whether it exists."""
    for step in steps:
        resources = [_resource(i.words()) for i in cloudbuild.gcloud_invocations(step)]
        described = {(group, name) for group, verb, name in filter(None, resources) if verb == "describe"}
        for group, verb, name in filter(None, resources):
            if verb == "create":
                assert (group, name) in described, f"{step.id}: creating {' '.join(group)} {name} is unguarded"


def test_the_trainer_package_is_uploaded_after_validate_package_can_see_it():
    config = cloudbuild.load()
    upload = next(step for step in config["steps"] if step["id"] == "upload-trainer")
    assert "deploy-validate-package" in upload["waitFor"]
    assert "gs://${_BUCKET}/packages/" in upload["args"][1]
    assert "--no-clobber" in upload["args"][1]


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_each_function_grants_its_trigger_account_the_invoker_role_in_its_own_step(steps, spec):
    """Before the upload (which waits for validate-package's step) and on every build: an add is idempotent."""
    (step,) = [s for s in steps if s.id == f"deploy-{spec.name}"]
    calls = cloudbuild.gcloud_invocations(step)
    assert [c.words()[:2] for c in calls] == [("functions", "deploy"), ("functions", "add-invoker-policy-binding")]
    grant = calls[1]
    assert grant.words()[2] == spec.name
    assert grant.flags()["--member"] == f"serviceAccount:flexrun-invoker@{TEST_PROJECT}.iam.gserviceaccount.com"


def test_no_deploy_asks_for_an_iam_policy_change_the_build_may_not_make(invocations):
    # On an existing function either flag calls Cloud Run setIamPolicy (google-facts.md, Eventarc/IAM).
    for invocation in invocations:
        flags = invocation.flags()
        assert "--allow-unauthenticated" not in flags and "--no-allow-unauthenticated" not in flags, invocation.argv


def test_no_gcloud_invocation_hides_where_the_plan_cannot_see_it(steps):
    for step in steps:
        assert len(cloudbuild.gcloud_invocations(step)) == cloudbuild.count_gcloud_words(step), step.id


def test_the_repository_holds_no_project_specific_value(steps):
    text = cloudbuild.CLOUDBUILD_YAML.read_text()
    assert TEST_PROJECT not in text and TEST_BUCKET not in text
    assert "${PROJECT_ID}" in text
