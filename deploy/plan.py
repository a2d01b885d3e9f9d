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


def function_env(steps: list[cloudbuild.Step]) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Each deployed function → (its --set-env-vars, its --set-secrets), as the build passes them."""
    found = {}
    for step in steps:
        for inv in cloudbuild.gcloud_invocations(step):
            if inv.words()[:2] == ("functions", "deploy"):
                flags = inv.flags()
                found[inv.words()[2]] = (_pairs(flags.get("--set-env-vars")), _pairs(flags.get("--set-secrets")))
    return found


def _pairs(value: str | None) -> dict[str, str]:
    return dict(item.split("=", 1) for item in (value or "").split(",") if item)


def render_env(steps: list[cloudbuild.Step]) -> str:
    """What each function is given: variables with their values, secrets with the version they read."""
    lines = ["# ── environment of each function (--set-env-vars; --set-secrets from Secret Manager)"]
    for name, (env, secrets) in function_env(steps).items():
        lines.append(f"# {name}")
        lines += [f"#   {key}={value}" for key, value in env.items()]
        lines += [f"#   {key} <- secret {ref}" for key, ref in secrets.items()]
    return "\n".join(lines) + "\n"


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
