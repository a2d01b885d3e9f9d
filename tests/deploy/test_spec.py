"""One deploy spec, two consumers: cloudbuild.yaml is what the spec generates, each function is given
every setting its code reads, and the local cloud starts each function with exactly its spec's share."""

from __future__ import annotations

import pytest

from deploy import cloudbuild_file, code_scan, generate
from deploy.plan import function_env
from deploy.spec import FUNCTIONS, LEFT_AT_DEFAULT, LOCAL_ENDPOINTS, FunctionSpec, Trigger, function, local_env
from tests.deploy.conftest import TEST_BUCKET, TEST_PROJECT


def _given(spec: FunctionSpec) -> set[str]:
    return {name.lower() for name in spec.variables}


def test_cloudbuild_yaml_is_what_the_deploy_spec_generates():
    assert cloudbuild_file.check() is None, cloudbuild_file.check()


def test_a_spec_change_not_written_to_cloudbuild_yaml_is_caught(monkeypatch):
    changed = FunctionSpec(**{**vars(FUNCTIONS[0]), "timeout_seconds": 61})
    monkeypatch.setattr(generate, "FUNCTIONS", (changed, *FUNCTIONS[1:]))
    assert cloudbuild_file.check() is not None


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_every_setting_a_function_reads_is_given_to_it_or_deliberately_left_at_its_default(spec):
    read = code_scan.settings_read(spec.source, spec.target)
    missing = sorted(read - _given(spec) - LEFT_AT_DEFAULT)
    assert not missing, f"{spec.name} reads {', '.join(n.upper() for n in missing)} but the deploy spec gives it none"


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_a_function_is_given_no_variable_its_code_never_reads(spec):
    read = code_scan.settings_read(spec.source, spec.target)
    assert not _given(spec) - read, f"{spec.name} is given {sorted(_given(spec) - read)}, which it never reads"


# None is a usable default here: the client then uses the region's endpoint (settings.vertex_endpoint);
# jobs then run on flexrun's trainer image in FLEXRUN_IMAGE_REPOSITORY (shared/runs/plan.job_image).
NONE_IS_A_DEFAULT = {"vertex_ai_api_endpoint", "flexrun_project_apis_endpoint", "vertex_ai_executor_image"}


def test_no_setting_without_a_usable_default_may_be_left_at_it():
    fields = code_scan.settings_fields()
    unusable = sorted(n for n in LEFT_AT_DEFAULT - NONE_IS_A_DEFAULT if fields[n] in (None, ...))
    assert not unusable and LEFT_AT_DEFAULT <= set(fields), unusable


def test_the_read_check_sees_a_setting_read_through_a_lazy_import_and_a_property(tmp_path):
    submit = function("submit-run")
    read = code_scan.settings_read(submit.source, submit.target)
    assert {"vertex_ai_service_account", "gcp_staging_bucket"} <= read  # the latter via .staging_bucket
    # job-state no longer reaches a job creator (issue 12): it publishes the next attempt instead.
    for follower in ("job-state", "validate-package"):
        spec = function(follower)
        assert "vertex_ai_service_account" not in code_scan.settings_read(spec.source, spec.target)


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_the_build_deploys_each_function_with_exactly_its_spec(steps, invocations, spec):
    deployed = [i for i in invocations if i.words()[:3] == ("functions", "deploy", spec.name)]
    assert len(deployed) == 1
    flags = deployed[0].flags()
    env, secrets = function_env(steps)[spec.name]
    assert set(env) == set(spec.env) and set(secrets) == {s.env for s in spec.secrets}
    assert flags["--entry-point"] == spec.target and flags["--source"] == f"build/functions/{spec.name}"
    assert flags["--timeout"] == f"{spec.timeout_seconds}s" and flags["--memory"] == spec.memory
    if spec.trigger is Trigger.BUCKET:
        assert flags["--trigger-bucket"] == TEST_BUCKET
    else:
        assert flags["--trigger-topic"] == spec.topic
    assert flags["--service-account"].endswith(f"@{TEST_PROJECT}.iam.gserviceaccount.com")


def test_plan_shows_each_functions_environment(steps):
    envs = function_env(steps)
    assert set(envs) == {spec.name for spec in FUNCTIONS}
    assert (
        envs["submit-run"][0]["VERTEX_AI_SERVICE_ACCOUNT"] == f"flexrun-trainer@{TEST_PROJECT}.iam.gserviceaccount.com"
    )
    assert "VERTEX_AI_SERVICE_ACCOUNT" not in envs["job-state"][0]  # only submit-run creates jobs
    assert envs["validate-package"][1] == {"SLACK_WEBHOOK_URL": "flexrun-slack-webhook-url:latest"}


def test_a_local_function_gets_its_own_variables_its_secrets_and_the_endpoints_nothing_else():
    secrets = {"MONGODB_URL": "mongodb://127.0.0.1:1/x", "SLACK_WEBHOOK_URL": "http://127.0.0.1:2/hook"}
    endpoints = {"STORAGE_EMULATOR_HOST": "http://127.0.0.1:3", "SOMETHING_ELSE": "x"}
    env = local_env(function("validate-package"), secrets, endpoints)
    runtime = {"K_SERVICE", "K_REVISION", "K_CONFIGURATION"}  # what Cloud Run adds to every container
    assert set(env) == {"GCP_PROJECT_ID", "GCP_BUCKET_NAME", "SLACK_WEBHOOK_URL", "STORAGE_EMULATOR_HOST"} | runtime
    assert env["K_SERVICE"] == "validate-package"
    assert env["GCP_PROJECT_ID"] == "local-project" and "MONGODB_URL" not in env
    submit = local_env(function("submit-run"), secrets, endpoints)
    assert submit["VERTEX_AI_SERVICE_ACCOUNT"] == "trainer@local-project.iam.gserviceaccount.com"
    assert "SOMETHING_ELSE" not in submit and set(LOCAL_ENDPOINTS) >= {"VERTEX_AI_API_ENDPOINT"}


def test_the_reconciler_is_deployed_on_its_own_topic_with_a_schedule(invocations):
    reconciler = next(spec for spec in FUNCTIONS if spec.target == "on_reconcile_requested")
    assert reconciler.schedule is not None
    created = {i.words()[3] for i in invocations if i.words()[:3] == ("pubsub", "topics", "create")}
    assert reconciler.topic in created
    jobs = [i for i in invocations if i.words()[:4] == ("scheduler", "jobs", "create", "pubsub")]
    (tick,) = [i for i in jobs if i.words()[4] == reconciler.schedule.job]
    assert tick.flags()["--topic"] == reconciler.topic and tick.flags()["--schedule"] == "*/10 * * * *"
