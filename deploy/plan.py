"""`python -m deploy plan`: the commands cloudbuild.yaml runs for one project, printed before anything runs."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from deploy import cloudbuild

PROJECT_NUMBER_PLACEHOLDER = "PROJECT_NUMBER"


def plan_steps(
    project: str, *, project_number: str | None = None, overrides: Mapping[str, str] | None = None
) -> list[cloudbuild.Step]:
    """cloudbuild.yaml's steps with the project's values substituted, exactly as Cloud Build would."""
    config = cloudbuild.load()
    built_in = {
        "PROJECT_ID": project,
        "PROJECT_NUMBER": project_number or PROJECT_NUMBER_PLACEHOLDER,
        "BUILD_ID": "BUILD_ID",
        "SHORT_SHA": "SHORT_SHA",
    }
    values = cloudbuild.resolve_substitutions(config, {**built_in, **(overrides or {})})
    return cloudbuild.steps(config, values)


def render(steps: list[cloudbuild.Step], *, gcloud_only: bool = False) -> str:
    blocks = []
    for step in steps:
        if gcloud_only:
            body = "\n".join(shlex.join(inv.argv) for inv in cloudbuild.gcloud_invocations(step))
        else:
            body = step.script.rstrip()
        if body:
            blocks.append(f"# ── step {step.id} ({step.image})\n{body}")
    return "\n\n".join(blocks) + "\n"
