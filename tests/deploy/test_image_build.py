"""cloudbuild.yaml builds and pushes the trainer image that submit-run names, before any function is deployed."""

from __future__ import annotations

import shlex

from deploy import cloudbuild
from shared.config.settings import Settings
from shared.jobs.images import trainer_image_tag, trainer_image_uri
from tests.deploy.conftest import TEST_PROJECT


def _step(steps, step_id):
    return next(step for step in steps if step.id == step_id)


def test_the_image_step_pushes_the_uri_submit_run_uses_by_default(steps):
    config = cloudbuild.load()
    region, repository = config["substitutions"]["_REGION"], config["substitutions"]["_IMAGE_REPOSITORY"]
    commands = [shlex.split(line) for line in _step(steps, "image").script.splitlines() if line.startswith("docker")]
    uri = trainer_image_uri(TEST_PROJECT, region, repository)
    assert ["docker", "build", "--file", "image/Dockerfile", "--tag", uri, "."] in commands
    assert ["docker", "push", uri] in commands
    assert repository == Settings.model_fields["flexrun_image_repository"].default
    assert config["substitutions"]["_TRAINER_IMAGE_TAG"] == trainer_image_tag()


def test_every_function_is_deployed_after_the_image_is_pushed():
    config = cloudbuild.load()
    deploys = [step for step in config["steps"] if step["id"].startswith("deploy-")]
    assert len(deploys) >= 4
    for step in deploys:
        assert "image" in step["waitFor"], step["id"]
    image = next(step for step in config["steps"] if step["id"] == "image")
    assert image["waitFor"] == ["image-repository"]


def test_the_job_creator_is_told_the_repository_the_image_was_pushed_to(invocations):
    repository = cloudbuild.load()["substitutions"]["_IMAGE_REPOSITORY"]
    for name in ("submit-run",):  # the one job creator (job-state publishes a fallback's next attempt to it)
        (deploy,) = [i for i in invocations if i.words()[:3] == ("functions", "deploy", name)]
        env = dict(item.split("=", 1) for item in (deploy.flags()["--set-env-vars"] or "").split(","))
        assert env["FLEXRUN_IMAGE_REPOSITORY"] == repository, name
