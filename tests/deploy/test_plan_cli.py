"""`python -m deploy plan` prints, for one project, exactly the scripts cloudbuild.yaml runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deploy import cloudbuild
from deploy.__main__ import main
from deploy.plan import plan_steps
from deploy.spec import FUNCTIONS
from tests.deploy.conftest import REPO_ROOT


def test_plan_prints_each_step_with_the_projects_values(capsys):
    assert main(["plan", "--project", "acme-ml", "--project-number", "42", "--region", "europe-west4"]) == 0
    out = capsys.readouterr().out
    assert "--trigger-bucket=acme-ml-flexrun-packages" in out
    assert "--region=europe-west4" in out and "us-central1" not in out
    assert "service-42@gcp-sa-pubsub.iam.gserviceaccount.com" in out
    assert "${" not in out.replace("${TRIGGER##*/}", ""), "an unsubstituted value reached the plan"


def test_plan_output_is_the_builds_scripts_verbatim(capsys):
    main(["plan", "--project", "acme-ml", "--set", "_BUCKET=acme-data"])
    out = capsys.readouterr().out
    for step in plan_steps("acme-ml", overrides={"_BUCKET": "acme-data"}):
        assert step.script.rstrip() in out


def test_gcloud_only_lists_one_command_per_line(capsys):
    main(["plan", "--project", "acme-ml", "--gcloud-only"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line and not line.startswith("#")]
    assert lines and all(line.startswith("gcloud ") for line in lines)
    assert sum(line.startswith("gcloud functions deploy ") for line in lines) == len(FUNCTIONS)


def test_plan_prints_each_functions_environment_with_the_projects_values(capsys):
    assert main(["plan", "--project", "acme-ml", "--env-only"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = lines.index("# submit-run") + 1
    block = lines[start : next(i for i in range(start, len(lines)) if not lines[i].startswith("#   "))]
    assert "#   VERTEX_AI_SERVICE_ACCOUNT=flexrun-trainer@acme-ml.iam.gserviceaccount.com" in block
    assert "#   MONGODB_URL <- secret flexrun-mongodb-url:latest" in block
    main(["plan", "--project", "acme-ml"])
    assert "# ── environment of each function" in capsys.readouterr().out


def test_cloudbuild_check_passes_on_the_checked_in_file(capsys):
    assert main(["cloudbuild", "--check"]) == 0


def test_an_unknown_substitution_is_refused_by_name(capsys):
    with pytest.raises(SystemExit):
        main(["plan", "--project", "acme-ml", "--set", "_BUKET=typo"])
    assert "_BUKET" in capsys.readouterr().err


def test_an_undefined_reference_fails_instead_of_printing_a_hole():
    with pytest.raises(cloudbuild.SubstitutionError, match="_NOPE"):
        cloudbuild.substitute("gcloud x --y=${_NOPE}", {})


def test_the_cli_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "deploy", "plan", "--project", "acme-ml", "--gcloud-only"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "gcloud functions deploy job-state" in result.stdout
