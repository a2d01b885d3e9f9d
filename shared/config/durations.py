"""The one duration grammar, wherever flexrun accepts a duration: settings, run messages, fallback steps, CLI.

    600 · 600s · 30m · 2h · 1h30m · 1d12h · 1h30m15s   → whole seconds

Units in descending order, each at most once; a bare number is seconds, so a proto-JSON Duration
("1800s") and a plain integer setting read the same. Hand-written because it is one regular
expression: pydantic's own timedelta parsing reads ISO 8601 ("PT1H30M") and "HH:MM:SS", not the
`1h30m` people type.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_GRAMMAR = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")
_UNIT_SECONDS = (86400, 3600, 60, 1)
EXAMPLES = "600, 90s, 30m, 2h or 1h30m"


def parse_seconds(value: str | int) -> int:
    """A duration → whole seconds; ValueError naming the accepted forms for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like {EXAMPLES}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value!r} is not a duration like {EXAMPLES}")
        return value
    text = value.strip().lower()
    found = _GRAMMAR.match(text)
    if not text or found is None:
        raise ValueError(f"{value!r} is not a duration like {EXAMPLES}")
    return sum(int(part or 0) * unit for part, unit in zip(found.groups(), _UNIT_SECONDS, strict=True))


def format_seconds(seconds: int) -> str:
    """Whole seconds → the grammar's shortest text (5400 → "1h30m"); parse_seconds reads it back."""
    if seconds == 0:
        return "0s"
    parts = []
    for suffix, unit in zip("dhms", _UNIT_SECONDS, strict=True):
        count, seconds = divmod(seconds, unit)
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts)


def _coerce(value: object) -> object:
    # Strings are parsed here; anything else is left to pydantic's own int check, so the field's
    # constraints (ge, le) and its error messages stay pydantic's.
    return parse_seconds(value) if isinstance(value, str) else value


Seconds = Annotated[int, BeforeValidator(_coerce)]
"""A pydantic field type: an int of seconds that also accepts the grammar's text."""
