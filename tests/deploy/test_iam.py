"""IAM that holds: every call each identity makes is granted by a role bound to it, the build's own
grants are exactly the data's, and the README shows the data."""

from __future__ import annotations

import pytest

from deploy import cloudbuild, code_scan, iam, iam_docs
from deploy.generate import SUBSTITUTIONS
from deploy.spec import FUNCTIONS, FunctionSpec
from shared.config.settings import Settings
from tests.deploy.conftest import REPO_ROOT

METHODS = frozenset(iam.CLIENT_METHODS)
IDENTITY_OF_ACCOUNT = {"${_FUNCTIONS_SA}": iam.Identity.FUNCTIONS}
DEFAULTS = {name: default for name, default, _ in SUBSTITUTIONS}


def _unsubstituted_invocations() -> list[cloudbuild.Invocation]:
    """The build's gcloud lines with `${NAME}` kept, as the data writes members and resources."""
    config = cloudbuild.load()
    names = {*config["substitutions"], *cloudbuild.BUILT_IN}
    steps = cloudbuild.steps(config, {name: "${" + name + "}" for name in names})
    return [invocation for step in steps for invocation in cloudbuild.gcloud_invocations(step)]


def _client_calls(calls: set[code_scan.ClientCall]) -> set[code_scan.ClientCall]:
    return {call for call in calls if (call.path, call.receiver) not in iam.NOT_CLIENT_CALLS}


def _trainer_calls() -> set[code_scan.ClientCall]:
    return _client_calls(code_scan.calls_in_files(sorted((REPO_ROOT / "trainer" / "src").rglob("*.py")), METHODS))


def _gaps(identity: iam.Identity, calls: set[code_scan.ClientCall]) -> list[str]:
    granted = iam.permissions_of(identity)
    return sorted(
        f"{call.where} `{call.method}` needs {permission}"
        for call in _client_calls(calls)
        for permission in iam.CLIENT_METHODS[call.method]
        if permission not in granted
    )


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_every_client_call_a_function_can_make_is_granted_to_the_account_it_runs_as(spec: FunctionSpec):
    identity = IDENTITY_OF_ACCOUNT[spec.service_account]
    calls = code_scan.method_calls(spec.source, spec.target, METHODS)
    assert not _gaps(identity, calls), "\n".join(_gaps(identity, calls))


def test_every_client_call_of_the_trainer_is_granted_to_the_trainer_account():
    calls = _trainer_calls()
    assert {call.method for call in calls} >= {"download_as_bytes", "upload_from_filename", "access_secret_version"}
    assert not _gaps(iam.Identity.TRAINER, calls), "\n".join(_gaps(iam.Identity.TRAINER, calls))


def test_an_exempted_receiver_is_named_in_the_code_it_exempts():
    for path, receiver in iam.NOT_CLIENT_CALLS:
        assert f"{receiver}." in (REPO_ROOT / path).read_text(), (path, receiver)


def test_every_client_call_in_shared_functions_and_cli_is_granted_to_whoever_makes_it():
    """A call no deployed function can reach is made by a person through the CLI (or it is dead code)."""
    files = [
        *(REPO_ROOT / "shared").rglob("*.py"),
        *(REPO_ROOT / "functions").rglob("*.py"),
        *(REPO_ROOT / "cli").rglob("*.py"),
    ]
    every = _client_calls(code_scan.calls_in_files(sorted(files), METHODS))
    deployed = {c.where for spec in FUNCTIONS for c in code_scan.method_calls(spec.source, spec.target, METHODS)}
    by_operator = {call for call in every if call.where not in deployed}
    assert not _gaps(iam.Identity.OPERATOR, by_operator), "\n".join(_gaps(iam.Identity.OPERATOR, by_operator))


def test_a_call_nobody_granted_is_reported_with_where_it_is():
    call = code_scan.ClientCall("cancel_custom_job", "shared/x.py:7")
    assert _gaps(iam.Identity.FUNCTIONS, {call}) == [
        "shared/x.py:7 `cancel_custom_job` needs aiplatform.customJobs.cancel"
    ]


@pytest.mark.parametrize("identity", [iam.Identity.FUNCTIONS, iam.Identity.TRAINER])
def test_every_permission_the_code_needs_is_listed_in_the_readme_table(identity):
    if identity is iam.Identity.TRAINER:
        calls = _trainer_calls()
    else:
        calls = {c for spec in FUNCTIONS for c in code_scan.method_calls(spec.source, spec.target, METHODS)}
    needed = {permission for call in _client_calls(calls) for permission in iam.CLIENT_METHODS[call.method]}
    listed = {call.permission for call in iam.CALLS if call.identity is identity}
    assert needed <= listed, sorted(needed - listed)


def test_every_listed_call_is_granted_by_a_role_bound_to_its_identity_that_contains_it():
    for call in iam.CALLS:
        assert call.role in iam.roles_of(call.identity), call
        assert call.permission in iam.ROLE_PERMISSIONS[call.role], call


def test_every_gcloud_command_of_the_build_is_known_and_granted_to_the_build(invocations):
    granted = iam.permissions_of(iam.Identity.BUILD)
    for invocation in invocations:
        needed = iam.gcloud_permissions(invocation.words())
        assert needed is not None, f"[{invocation.step}] no permissions known for gcloud {' '.join(invocation.words())}"
        assert set(needed) <= granted, (invocation.step, sorted(set(needed) - granted))


def test_an_image_push_of_the_build_is_granted_to_the_build(steps):
    if any("docker push " in step.script for step in steps):
        assert "artifactregistry.repositories.uploadArtifacts" in iam.permissions_of(iam.Identity.BUILD)


def _build_grants() -> set[tuple[str, str, str]]:
    found = set()
    for invocation in _unsubstituted_invocations():
        words, flags = invocation.words(), invocation.flags()
        if words[:2] == ("functions", "add-invoker-policy-binding"):
            found.add((flags["--member"] or "", "roles/run.invoker", f"function:{words[2]}"))
        elif words[:3] == ("pubsub", "topics", "add-iam-policy-binding"):
            found.add((flags["--member"] or "", flags["--role"] or "", f"topic:{words[3]}"))
        elif words[:3] == ("pubsub", "subscriptions", "add-iam-policy-binding") and words[3] == "$SUBSCRIPTION":
            found.add((flags["--member"] or "", flags["--role"] or "", "subscription:triggers"))
    return found


def test_the_build_grants_exactly_the_bindings_the_data_says_it_does():
    expected = {(iam.MEMBERS[b.identity], b.role, b.on) for b in iam.BINDINGS if b.by is iam.By.BUILD}
    assert _build_grants() == expected


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_each_secret_a_function_is_given_is_readable_by_its_account(spec):
    identity = IDENTITY_OF_ACCOUNT[spec.service_account]
    readable = {b.on for b in iam.BINDINGS if b.identity is identity and b.role == "roles/secretmanager.secretAccessor"}
    for secret in spec.secrets:
        name = DEFAULTS[secret.secret.strip("${}")]
        assert f"secret:{name}" in readable, f"{spec.name} reads {secret.env} from {name}, which it may not access"


def test_the_trainer_may_read_every_object_a_job_is_given():
    defaults = Settings.model_fields
    given = {defaults["flexrun_deployable_prefix"].default, defaults["flexrun_packages_prefix"].default}
    readable = {
        prefix
        for b in iam.BINDINGS
        if b.identity is iam.Identity.TRAINER and "storage.objects.get" in iam.ROLE_PERMISSIONS[b.role]
        for prefix in b.prefixes
    }
    assert given <= readable


def test_the_readme_holds_the_iam_tables_and_the_setup_commands_rendered_from_the_data():
    readme = (REPO_ROOT / "deploy" / "README.md").read_text()
    assert iam_docs.render_markdown() in readme, "run `python -m deploy iam --markdown` into deploy/README.md"
    assert iam_docs.render_setup() in readme, "run `python -m deploy iam --setup` into deploy/README.md"


def test_the_doctor_checks_grants_the_deploy_makes():
    """`flexrun doctor` (deploy/doctor_needs.py) asks a project for what this data grants, no more."""
    from deploy import doctor_needs
    from shared.doctor.needs import Who

    settings = Settings(gcp_project_id="p", flexrun_trainer_secrets="MONGODB_URL=flexrun-mongodb-url")
    needs = doctor_needs.deployment(settings, local=False)
    identity = {
        Who.FUNCTIONS: iam.Identity.FUNCTIONS,
        Who.INVOKER: iam.Identity.INVOKER,
        Who.TRAINER: iam.Identity.TRAINER,
    }
    checked = [grant for grant in needs.grants if grant.who in identity]
    assert {grant.who for grant in checked} == set(identity)
    for grant in checked:
        role = grant.role.replace("projects/p/", "projects/${PROJECT_ID}/")
        assert role in iam.roles_of(identity[grant.who]), grant
        assert set(grant.permissions) <= iam.ROLE_PERMISSIONS[role], grant
