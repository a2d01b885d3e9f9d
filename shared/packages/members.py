"""Rules for each member of a package archive, and which members the checks keep to read.

The rules follow Python's `tarfile` "data" extraction filter, only stricter (no links at all), plus what
would break the install or run code before the trainer does: a name the filesystem cannot hold, two
names one case-insensitive filesystem merges, and files Python executes at interpreter start.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
import tomllib
import unicodedata

from shared.packages.entry_module import module_paths
from shared.packages.metadata import METADATA_FILES

# Linux's PATH_MAX and NAME_MAX (limits.h), in bytes: ext4, XFS and overlayfs refuse anything longer.
MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255
# `site` executes lines of any `*.pth` in site-packages that start with `import`, and imports
# `sitecustomize` / `usercustomize` at every interpreter start: code that would run before the trainer,
# in every Python process of the job, the launcher's pip included. Any form of those modules counts:
# source, sourceless `.pyc`, extension `.so`, or a package directory of that name.
STARTUP_HOOKS = ("sitecustomize", "usercustomize")
_MODULE_FILE = re.compile(r"(src/)?[A-Za-z_]\w*(/[A-Za-z_]\w*)*\.py")


class MemberRules:
    """Judges members in archive order; remembers what it saw (duplicates, case twins)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._folded: dict[str, str] = {}  # case-folded path (and every parent) → the first spelling seen

    def problem(self, member: tarfile.TarInfo) -> tuple[str, str] | None:
        """The first rule this member breaks, if any."""
        name = member.name
        if "\x00" in name or not name:
            return ("bad_member_name", f"member name {name!r} is empty or contains NUL")
        raw = name.encode("utf-8", "surrogateescape")
        if len(raw) > MAX_PATH_BYTES or any(len(part) > MAX_COMPONENT_BYTES for part in raw.split(b"/")):
            return (
                "name_too_long",
                f"member {name[:80]!r}… is {len(raw)} bytes; a path holds {MAX_PATH_BYTES} bytes "
                f"and each component {MAX_COMPONENT_BYTES}",
            )
        unix = name.replace("\\", "/")
        if unix.startswith("/") or (len(name) > 1 and name[1] == ":"):
            return ("absolute_path", f"member {name!r} has an absolute path")
        if ".." in unix.split("/"):
            return ("path_traversal", f"member {name!r} escapes the archive with '..'")
        if member.issym():
            return ("symlink_member", f"member {name!r} is a symbolic link to {member.linkname!r}")
        if member.islnk():
            return ("hardlink_member", f"member {name!r} is a hard link to {member.linkname!r}")
        if not (member.isfile() or member.isdir()):
            return ("special_member", f"member {name!r} is a device, FIFO or other special file")
        if member.mode & 0o6000:
            return ("unsafe_mode", f"member {name!r} has the setuid or setgid bit ({oct(member.mode)})")
        normalized = posixpath.normpath(unix)
        if member.isfile() and (hook := _startup_hook(normalized)):
            return ("startup_hook", f"member {name!r} is code Python runs at interpreter start ({hook})")
        if normalized in self._seen:
            return ("duplicate_member", f"member {name!r} appears twice")
        self._seen.add(normalized)
        return self._case_twin(normalized)

    def _case_twin(self, normalized: str) -> tuple[str, str] | None:
        """Two spellings of one path on a case-insensitive (or normalizing) filesystem."""
        parts = normalized.split("/")
        for depth in range(1, len(parts) + 1):
            spelled = "/".join(parts[:depth])
            folded = unicodedata.normalize("NFC", spelled).casefold()
            first = self._folded.setdefault(folded, spelled)
            if first != spelled:
                return ("case_conflict", f"{spelled!r} and {first!r} differ only in case")
        return None


class WantedFiles:
    """The metadata files and the entry module's source, kept while the archive streams past.

    The module a package declares (`[tool.flexrun] entry-module` in pyproject.toml) is known only once
    pyproject.toml has been read; Python files seen before it are kept up to `budget` bytes, so a
    declared module is found whatever the member order, while memory stays bounded.
    """

    def __init__(self, default_module: str, budget: int) -> None:
        self._default_paths = module_paths(default_module)
        self._metadata: dict[str, bytes] = {}
        self._modules: dict[str, tuple[str, bytes]] = {}
        self._declared_paths: tuple[str, ...] | None = None  # None until pyproject.toml is read
        self._budget = budget
        self._dropped: set[str] = set()

    def wants(self, member: tarfile.TarInfo) -> str | None:
        """The sdist-relative path of a member to keep, else None."""
        _, _, relative = member.name.partition("/")
        if relative in METADATA_FILES:
            return relative
        if not _MODULE_FILE.fullmatch(relative):
            return None
        if relative in self._default_paths:
            return relative
        if self._declared_paths is not None:
            return relative if relative in self._declared_paths else None
        if member.size > self._budget:
            self._dropped.add(relative)
            return None
        return relative

    def keep(self, relative: str, member_name: str, content: bytes) -> None:
        if relative in METADATA_FILES:
            self._metadata[relative] = content
            if relative == "pyproject.toml":
                self._declared_paths = _declared_paths(content) or ()
            return
        self._modules[relative] = (member_name, content)
        if relative not in self._default_paths and self._declared_paths is None:
            self._budget -= len(content)

    def metadata_files(self) -> dict[str, bytes]:
        return dict(self._metadata)

    def module(self, module: str) -> tuple[str, bytes] | None:
        """(member name, source) of the module, from the flat or the `src/` layout."""
        return next((self._modules[p] for p in module_paths(module) if p in self._modules), None)

    def missed(self, module: str) -> str:
        if any(p in self._dropped for p in module_paths(module)):
            return " (it comes before pyproject.toml, after too much other Python source to keep)"
        return ""


def _startup_hook(path: str) -> str | None:
    parts = path.lower().split("/")
    if parts[-1].endswith(".pth"):
        return parts[-1]
    return next((stem for stem in (part.split(".", 1)[0] for part in parts) if stem in STARTUP_HOOKS), None)


def _declared_paths(pyproject: bytes) -> tuple[str, ...] | None:
    """Where the declared entry module lives; bad TOML is reported by the metadata checks, not here."""
    try:
        tool = tomllib.loads(pyproject.decode("utf-8")).get("tool", {})
        declared = tool.get("flexrun", {}).get("entry-module") if isinstance(tool, dict) else None
    except (ValueError, UnicodeDecodeError, AttributeError, RecursionError):
        return None
    return module_paths(declared) if isinstance(declared, str) else None
