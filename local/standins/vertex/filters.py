"""The subset of the list `filter` syntax (AIP-160) flexrun uses, with anything else refused.

Supported terms, joined by `AND`: `labels.KEY="VALUE"`, `labels.KEY:*` (label present),
`state=JOB_STATE_...` / `state!=...`, `display_name="..."`. An unsupported filter is an
InvalidArgument rather than a silently wrong answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.standins.vertex.errors import ApiError

_TERM = re.compile(
    r"""\s*(?P<field>labels\.[A-Za-z0-9_-]+|state|display_name|displayName)\s*
        (?P<op>!=|=|:)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|[^\s"()]+)\s*""",
    re.VERBOSE,
)
_AND = re.compile(r"AND\s+")


@dataclass(frozen=True)
class Term:
    field: str
    op: str
    value: str

    def matches(self, job: dict[str, Any]) -> bool:
        if self.field.startswith("labels."):
            actual = job.get("labels", {}).get(self.field[len("labels.") :])
            if self.op == ":":
                return actual is not None if self.value == "*" else bool(actual == self.value)
        elif self.field == "state":
            actual = job.get("state", "JOB_STATE_UNSPECIFIED")
        else:
            actual = job.get("displayName")
        equal = actual == self.value
        return bool(equal) if self.op in ("=", ":") else not equal


def parse(text: str) -> Callable[[dict[str, Any]], bool]:
    """Turn a filter string into a predicate on stored jobs; empty means everything."""
    terms: list[Term] = []
    rest = text.strip()
    while rest:
        found = _TERM.match(rest)
        if found is None:
            raise ApiError(
                "INVALID_ARGUMENT",
                f"Unsupported filter (local Vertex supports labels/state/display_name terms joined by AND): {text!r}",
            )
        value = found["value"]
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])  # \" and \\ inside quotes
        terms.append(Term(found["field"], found["op"], value))
        rest = rest[found.end() :]
        if rest:
            joined = _AND.match(rest)
            if joined is None:
                raise ApiError("INVALID_ARGUMENT", f"Unsupported filter (only AND joins terms): {text!r}")
            rest = rest[joined.end() :]
    return lambda job: all(term.matches(job) for term in terms)
