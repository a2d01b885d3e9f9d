"""Read cloudbuild.yaml the way Cloud Build does: substitutions applied, `$$` unescaped, steps in order.

`deploy plan` prints these steps for a project; the tests check every `gcloud` invocation in them.
cloudbuild.yaml stays the single source of what runs: nothing here re-describes the deploy.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CLOUDBUILD_YAML = Path(__file__).resolve().parents[1] / "cloudbuild.yaml"
# Cloud Build's own substitutions that the file uses; everything else must be declared under `substitutions`.
BUILT_IN = ("PROJECT_ID", "PROJECT_NUMBER", "BUILD_ID", "SHORT_SHA")
# `$$` is Cloud Build's escape for a literal `$` (shell variables); `${NAME}` and `$NAME` are substitutions.
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_SHELL_OPERATORS = set("();<>|&")


class SubstitutionError(Exception):
    """cloudbuild.yaml names a substitution that is neither declared nor built in."""


@dataclass(frozen=True)
class Step:
    id: str
    image: str
    script: str  # the shell script (entrypoint bash -c) or the argv joined, after substitution


@dataclass(frozen=True)
class Invocation:
    """One `gcloud ...` command line found in a step, as the shell would pass it."""

    step: str
    argv: tuple[str, ...]  # starts with "gcloud"

    def flags(self) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for token in self.argv[1:]:
            if token.startswith("--"):
                name, _, value = token.partition("=")
                found[name] = value if "=" in token else None
        return found

    def words(self) -> tuple[str, ...]:
        """The command path and positionals: every token before the first flag."""
        words: list[str] = []
        for token in self.argv[1:]:
            if token.startswith("-"):
                break
            words.append(token)
        return tuple(words)


def load(path: Path = CLOUDBUILD_YAML) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def resolve_substitutions(config: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """Declared defaults, then overrides; values may use built-ins (`options.dynamicSubstitutions`)."""
    values = {name: str(value) for name, value in (config.get("substitutions") or {}).items()}
    unknown = sorted(set(overrides) - set(values) - set(BUILT_IN))
    if unknown:
        raise SubstitutionError(f"not a substitution of cloudbuild.yaml: {', '.join(unknown)}")
    values.update(overrides)
    built_in = {name: values[name] for name in BUILT_IN if name in values}
    return {name: substitute(value, built_in) if name not in BUILT_IN else value for name, value in values.items()}


def substitute(text: str, values: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(2)
        if name not in values:
            raise SubstitutionError(f"${name} is not defined (declare it under `substitutions:`)")
        return values[name]

    return _REFERENCE.sub(replace, text)


def steps(config: Mapping[str, Any], values: Mapping[str, str]) -> list[Step]:
    result = []
    for index, raw in enumerate(config["steps"]):
        args = [str(arg) for arg in raw.get("args", [])]
        if raw.get("entrypoint") == "bash" and args[:1] == ["-c"]:
            script = args[1]
        else:
            script = shlex.join([raw.get("entrypoint", raw["name"]), *args])
        step_id = raw.get("id", f"step-{index}")
        result.append(Step(id=step_id, image=substitute(raw["name"], values), script=substitute(script, values)))
    return result


def gcloud_invocations(step: Step) -> list[Invocation]:
    """Every `gcloud` command in a step's script: one per shell command, `$(...)` included.

    Scripts are written one command per line (continuations joined), so a line-wise shell lexer finds
    them; `count_gcloud_words` lets a test prove none hid inside a quoted string.
    """
    found = []
    for line in step.script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for start, token in enumerate(tokens):
            if token == "gcloud":
                found.append(Invocation(step=step.id, argv=_until_operator(tokens[start:])))
    return found


def _until_operator(tokens: list[str]) -> tuple[str, ...]:
    argv: list[str] = []
    for token in tokens:
        if set(token) <= _SHELL_OPERATORS:
            # `2>&1`: the 2 belongs to the redirection, not to gcloud.
            if token.startswith((">", "<")) and argv and argv[-1].isdigit():
                argv.pop()
            break
        argv.append(token)
    return tuple(argv)


def count_gcloud_words(step: Step) -> int:
    """How many times the word gcloud appears in the script, comments excluded."""
    lines = [line.split(" #", 1)[0] for line in step.script.splitlines() if not line.lstrip().startswith("#")]
    return len(re.findall(r"(?<![\w./-])gcloud(?![\w-])", "\n".join(lines)))
