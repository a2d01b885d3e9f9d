"""A package's name, version and requirements as every file pip may build it from declares them.

pip never installs an sdist from its PKG-INFO: it asks the build backend to prepare metadata again, and
setuptools reads `pyproject.toml`, `setup.cfg` and `setup.py` for that. So each of the four files is read
(`shared.packages.metadata_files`), and they must all agree; a value a file computes at build time
cannot be checked and is refused. Nothing from the package is ever imported or executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from shared.packages.metadata_files import METADATA_FILES, Declared, parse_file

Reasons = list[tuple[str, str]]
_NAME = re.compile(r"([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])", re.IGNORECASE)  # PEP 508 distribution name
__all__ = ["METADATA_FILES", "PackageMetadata", "normal_requirement", "read_metadata"]


@dataclass(frozen=True)
class PackageMetadata:
    name: str
    version: str
    requirements: tuple[str, ...]  # every file's installed requirements (they agree, or it is rejected)
    extras: tuple[str, ...]
    source: str  # the most authoritative file that names the version
    sources: tuple[str, ...]  # every metadata file the package has
    entry_module: str | None = None
    requires_python: tuple[tuple[str, str], ...] = ()  # (file, specifier) for each file that states one


def normal_requirement(text: str) -> str:
    """One spelling per requirement (`Pandas >= 2` and `pandas>=2` agree); unparsable text as is."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return text.strip()
    requirement.name = canonicalize_name(requirement.name)
    return str(requirement)


def _unique(requirements: list[str]) -> tuple[str, ...]:
    """Each requirement once, in its first spelling."""
    first: dict[str, str] = {}
    for text in requirements:
        first.setdefault(normal_requirement(text), text)
    return tuple(first.values())


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def read_metadata(files: dict[str, bytes]) -> tuple[PackageMetadata | None, Reasons]:
    """Name, version and requirements, once every metadata file has been read and compared."""
    if not files:
        return None, [("no_metadata", "no PKG-INFO, pyproject.toml, setup.cfg or setup.py at the top of the sdist")]
    reasons: Reasons = []
    declared: dict[str, Declared] = {}
    for filename in METADATA_FILES:
        if filename in files:
            parsed, problems = parse_file(filename, files[filename])
            reasons += problems
            if parsed is not None:
                declared[filename] = parsed
    for filename, found in declared.items():
        if found.unchecked_backend:
            reasons.append(
                (
                    "unchecked_build_backend",
                    f"{filename}: {found.unchecked_backend} builds without a [project] table; "
                    "what pip would install cannot be checked",
                )
            )
        for field in found.computed:
            reasons.append(
                ("dynamic_metadata", f"{filename} computes {field} at build time: what pip installs cannot be checked")
            )
    name_source = next((f for f, d in declared.items() if d.name), None)
    source = next((f for f, d in declared.items() if d.version), None)
    if name_source is None or source is None:
        reasons.append(("metadata_incomplete", f"no static name and version in {', '.join(sorted(files))}"))
        return None, reasons
    name, version = declared[name_source].name or "", declared[source].version or ""
    reasons += _disagreements(declared, name, name_source, version, source)
    if not _NAME.fullmatch(name):
        reasons.append(("bad_name", f"name {name!r} is not a valid distribution name (PEP 508)"))
    try:
        Version(version)
    except InvalidVersion:
        reasons.append(("bad_version", f"version {version!r} is not a PEP 440 version"))
    requirements = [r for d in declared.values() for r in d.requirements or ()]
    extras = [r for d in declared.values() for r in d.extras]
    entry = next((d.entry_module for d in declared.values() if d.entry_module), None)
    metadata = PackageMetadata(
        name,
        version,
        _unique(requirements),
        _unique(extras),
        source,
        tuple(sorted(files)),
        entry,
        tuple((f, d.requires_python) for f, d in declared.items() if d.requires_python),
    )
    return metadata, reasons


def _disagreements(declared: dict[str, Declared], name: str, name_source: str, version: str, source: str) -> Reasons:
    reasons: Reasons = []
    for other, found in declared.items():
        if found.name and canonicalize_name(found.name) != canonicalize_name(name):
            reasons.append(("metadata_conflict", f"{name_source} says name {name}, {other} says {found.name}"))
        if found.version and not _same_version(found.version, version):
            reasons.append(("metadata_conflict", f"{source} says version {version}, {other} says {found.version}"))
    stated = {
        f: frozenset(map(normal_requirement, d.requirements)) for f, d in declared.items() if d.requirements is not None
    }
    if len(set(stated.values())) > 1:
        first, *others = stated
        for other in others:
            if stated[other] != stated[first]:
                only_first = ", ".join(sorted(stated[first] - stated[other])) or "nothing more"
                only_other = ", ".join(sorted(stated[other] - stated[first])) or "nothing more"
                reasons.append(
                    (
                        "metadata_conflict",
                        f"requirements differ: {first} adds {only_first}; {other} adds {only_other}",
                    )
                )
    return reasons
