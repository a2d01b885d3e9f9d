"""The trainer image's pins: what the image ships, which a package's requirements must not replace.

The image's lock file (`image/requirements.lock`, pip `name==version` lines) is the one record of what
the image installs; the job's launcher installs a package with it as pip constraints, so a requirement
that excludes a pinned version cannot be installed there. Validation reads the same file to refuse such a
package at upload, before a job waits for and claims GPU capacity only to fail at `pip install`.

Until the lock file exists (another branch creates it), `local/executor-image.txt`, the local stand-in
of the image, is read instead: its lines are loose (`numpy`, `tensorflow-cpu>=2.16`), so only the
lines with an exact `==` version are pins there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_FILE = Path("image/requirements.lock")
FALLBACK_FILE = Path("local/executor-image.txt")
# The lock file's header names the image's Python (`# python-version: 3.11`): requirement markers are
# evaluated for it, not for the Python that happens to run the validation.
_PYTHON_VERSION = re.compile(r"#\s*python-version:\s*(\d+\.\d+)\s*$")


@dataclass(frozen=True)
class ImagePins:
    """Canonical distribution name → the exact version the image ships; `source` names the file read."""

    versions: dict[str, Version] = field(default_factory=dict)
    source: str = "none"
    python_version: str | None = None  # X.Y of the image's Python, when the file says

    def pinned(self, name: str) -> Version | None:
        return self.versions.get(canonicalize_name(name))


NO_PINS = ImagePins()


def parse_pins(lines: Iterable[str], source: str) -> ImagePins:
    """`name==version` lines (pip's lock and constraints format); comments, options and loose lines skipped."""
    versions: dict[str, Version] = {}
    python_version = None
    for raw in lines:
        if found := _PYTHON_VERSION.match(raw.strip()):
            python_version = found.group(1)
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue  # comments and pip options (--hash continuation lines, -c, --index-url)
        try:
            requirement = Requirement(line.rstrip("\\").strip())
        except InvalidRequirement:
            continue
        exact = [s for s in requirement.specifier if s.operator in ("==", "===") and "*" not in s.version]
        if len(exact) != 1:
            continue
        try:
            versions[canonicalize_name(requirement.name)] = Version(exact[0].version)
        except InvalidVersion:
            continue
    return ImagePins(versions, source, python_version)


def load_pins(path: Path | None = None) -> ImagePins:
    """The pins of `path`, else of the image's lock file, else of the local stand-in's list."""
    candidates = [path] if path is not None else [REPO_ROOT / LOCK_FILE, REPO_ROOT / FALLBACK_FILE]
    for candidate in candidates:
        if candidate.is_file():
            shown = candidate.relative_to(REPO_ROOT) if candidate.is_relative_to(REPO_ROOT) else candidate
            return parse_pins(candidate.read_text(encoding="utf-8").splitlines(), str(shown))
    return NO_PINS


@functools.cache
def default_pins() -> ImagePins:
    """The pins validation uses unless told otherwise: read once per process (a function instance)."""
    return load_pins()
