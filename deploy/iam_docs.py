"""deploy/iam.py rendered for people: the README's tables and the one-time grants as gcloud commands.

`python -m deploy iam --markdown` prints the tables, `--setup` the commands; deploy/README.md holds
both verbatim (tests/deploy/test_iam.py), and the commands' flags are checked against gcloud's help.
"""

from __future__ import annotations

import re

from deploy import iam
from deploy.generate import SUBSTITUTIONS

# The one-time setup script's shell variables stand for the project, its number and the bucket.
SETUP_VALUES = {
    "PROJECT_ID": "$P",
    "PROJECT_NUMBER": "$PN",
    "_BUCKET": "$B",
    "_BUILD_SA": "flexrun-build",
    "_OPERATOR": "$OPERATOR",
    **{name: default for name, default, _ in SUBSTITUTIONS if name.endswith("_SA")},
}
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def setup_text(text: str) -> str:
    """Substitution syntax → the setup script's shell (`${_TRAINER_SA}` → flexrun-trainer, `${PROJECT_ID}` → $P)."""
    return _REFERENCE.sub(lambda match: SETUP_VALUES[match.group(1)], text)


def _email(account_substitution: str) -> str:
    return setup_text(f"{account_substitution}@${{PROJECT_ID}}.iam.gserviceaccount.com")


def _condition(binding: iam.Binding) -> str:
    tests = [f"resource.name.startsWith('projects/_/buckets/$B/objects/{prefix}')" for prefix in binding.prefixes]
    title = "-".join(prefix.rstrip("/") for prefix in binding.prefixes)
    return f' --condition="expression={" || ".join(tests)},title={title}"'


def setup_command(binding: iam.Binding) -> str:
    member, role = setup_text(iam.MEMBERS[binding.identity]), setup_text(binding.role)
    grant = f"--member={member} --role={role}"
    kind, _, name = binding.on.partition(":")
    if kind == "project":
        return f"gcloud projects add-iam-policy-binding $P {grant} --condition=None --quiet >/dev/null"
    if kind == "bucket":
        condition = _condition(binding) if binding.prefixes else ""
        return f"gcloud storage buckets add-iam-policy-binding gs://$B {grant}{condition} >/dev/null"
    if kind == "secret":
        return f"gcloud secrets add-iam-policy-binding {name} {grant} --project=$P >/dev/null"
    if kind == "sa":
        return f"gcloud iam service-accounts add-iam-policy-binding {_email(name)} {grant} --project=$P >/dev/null"
    raise ValueError(f"no setup command for a binding on {binding.on}")


def render_setup() -> str:
    """The one-time grants: custom roles first, then every binding the build does not make itself."""
    lines = []
    for role, permissions in iam.CUSTOM_ROLES.items():
        role_id = role.rsplit("/", 1)[1]
        lines.append(
            f"gcloud iam roles describe {role_id} --project=$P >/dev/null 2>&1 || gcloud iam roles create "
            f"{role_id} --project=$P --title={role_id} --permissions={','.join(permissions)}"
        )
    lines.append("GCS_AGENT=$(gcloud storage service-agent --project=$P)")
    lines.append("OPERATOR=${OPERATOR:?set OPERATOR=user:NAME@DOMAIN (each person who runs flexrun)}")
    lines += [setup_command(b) for b in iam.BINDINGS if b.by is iam.By.SETUP]
    return "\n".join(lines) + "\n"


def _on(binding: iam.Binding) -> str:
    kind, _, name = binding.on.partition(":")
    if kind == "bucket":
        where = "the package bucket" + (f", objects under {' and '.join(binding.prefixes)}" if binding.prefixes else "")
        return where
    if kind == "subscription":
        return "each trigger's Eventarc subscription"
    return f"{kind} `{setup_text(name)}`" if name else kind


def render_markdown() -> str:
    out = [
        "| identity | call | permission | role |",
        "|---|---|---|---|",
        *(f"| {c.identity} | {c.call} | `{c.permission}` | `{setup_text(c.role)}` |" for c in iam.CALLS),
        "| build | the build's gcloud commands (`iam.GCLOUD_PERMISSIONS`) | see the roles below | |",
        "",
        "| identity | role | on | granted by | why |",
        "|---|---|---|---|---|",
        *(f"| {b.identity} | `{setup_text(b.role)}` | {_on(b)} | {b.by} | {b.why} |" for b in iam.BINDINGS),
    ]
    return "\n".join(out) + "\n"
