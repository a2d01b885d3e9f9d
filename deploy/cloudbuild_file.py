"""cloudbuild.yaml's text, from the steps deploy/generate.py builds: `python -m deploy cloudbuild` writes
it, `--check` (and tests/deploy/test_spec.py) fails when the checked-in file differs.

Written line by line rather than dumped, so the file keeps its comments and literal scripts.
"""

from __future__ import annotations

import yaml

from deploy import generate
from deploy.cloudbuild import CLOUDBUILD_YAML

HEADER = """\
# GENERATED from deploy/spec.py by `python -m deploy cloudbuild`: edit the spec, not this file.
#
# flexrun's whole deploy, in one build: test, bundle, trainer image, topics, functions (each granted to
# its trigger's invoker before anything is uploaded), trainer package, schedules, log sink, dead-letter routing.
# Every step that creates something describes it first and every IAM binding is an idempotent add,
# so re-running the build succeeds. One-time setup (APIs, bucket, service accounts, secrets, the
# roles of each identity) is in deploy/README.md.
#
#   gcloud builds submit --config cloudbuild.yaml --substitutions=_BUCKET=my-bucket,_REGION=europe-west4 \\
#     --service-account=projects/my-project/serviceAccounts/flexrun-build@my-project.iam.gserviceaccount.com
#   python -m deploy plan --project my-project --set _BUCKET=my-bucket   # read the commands first
#
# Cloud Build substitutes ${_NAME} and ${PROJECT_ID}; $$ is a literal $ for the shell.
"""


def _scalar(value: str) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def render() -> str:
    """The text of cloudbuild.yaml."""
    out = [HEADER, "substitutions:"]
    for name, default, comment in generate.SUBSTITUTIONS:
        out.append(f"  {name}: {_scalar(default)}" + (f"  # {comment}" if comment else ""))
    out += [
        "",
        "options:",
        "  dynamicSubstitutions: true  # _BUCKET's default names ${PROJECT_ID}",
        "  logging: CLOUD_LOGGING_ONLY",
        "",
        "steps:",
    ]
    for step in generate.build_steps():
        out += [f"  # {line}".rstrip() for line in step.comment.splitlines()]
        out += [f"  - id: {step.id}", f"    name: {step.image}", "    entrypoint: bash"]
        if step.wait_for:
            out.append(f"    waitFor: [{', '.join(step.wait_for)}]")
        out += ["    args:", "      - -c", "      - |", "        set -euo pipefail"]
        out += [f"        {line}".rstrip() for line in step.script.rstrip("\n").splitlines()]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def check() -> str | None:
    """None when cloudbuild.yaml is what the spec generates; else what to do about it."""
    if CLOUDBUILD_YAML.read_text() == render():
        return None
    return f"{CLOUDBUILD_YAML.name} differs from the deploy spec: run `python -m deploy cloudbuild` and commit it"
