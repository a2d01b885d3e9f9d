"""A package's requirements against what the job's `pip install` will allow: PEP 508, not denied, and
not in conflict with a version the trainer image pins (the launcher installs with the pins as pip
constraints, so such a package could only fail on the job, after it has claimed its GPUs)."""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from shared.packages.metadata import PackageMetadata, normal_requirement
from shared.packages.pins import ImagePins

Reasons = list[tuple[str, str]]


def _installed_there(requirement: Requirement, pins: ImagePins) -> bool:
    """Whether a plain `pip install` of the package in the image installs it (no extras chosen).

    Markers are evaluated for the image's Python version when the lock file names it; the rest of the
    environment (CPython on Linux x86-64) is this interpreter's, the same platform flexrun targets.
    """
    if requirement.marker is None:
        return True
    environment = {"extra": ""}
    if pins.python_version:
        environment |= {"python_version": pins.python_version, "python_full_version": pins.python_version + ".0"}
    return requirement.marker.evaluate(environment)


def _pin_problem(requirement: Requirement, pins: ImagePins) -> str | None:
    pinned = pins.pinned(requirement.name)
    if pinned is None or not _installed_there(requirement, pins):
        return None
    if requirement.url:
        return f"{requirement.name} @ {requirement.url} would replace the image's {requirement.name}=={pinned}"
    if not requirement.specifier.contains(pinned, prereleases=True):
        return (
            f"{requirement} excludes the image's {canonicalize_name(requirement.name)}=={pinned} "
            f"(pins from {pins.source}); pip would have to replace it"
        )
    return None


def check_python(metadata: PackageMetadata, pins: ImagePins) -> Reasons:
    """pip refuses a package whose Requires-Python excludes the interpreter: on the job, after the wait."""
    reasons: Reasons = []
    for filename, text in metadata.requires_python:
        try:
            specifier = SpecifierSet(text)
        except InvalidSpecifier:
            reasons.append(("bad_metadata", f"{filename}: Requires-Python {text!r} is not a version specifier"))
            continue
        if pins.python_version is None:
            continue
        # The lock names X.Y only: any patch release of it that the specifier admits will do.
        patches = (Version(f"{pins.python_version}.0"), Version(f"{pins.python_version}.99"))
        if not any(specifier.contains(v, prereleases=True) for v in patches):
            reasons.append(
                ("python_mismatch", f"{filename} requires Python {text}; the image runs Python {pins.python_version}")
            )
    return reasons


def check_requirements(metadata: PackageMetadata, denied: frozenset[str], pins: ImagePins) -> Reasons:
    reasons: Reasons = check_python(metadata, pins)
    if (own := pins.pinned(metadata.name)) is not None:
        reasons.append(
            ("pin_conflict", f"the package is named {metadata.name}: installing it would replace the image's =={own}")
        )
    denied_names = {canonicalize_name(name) for name in denied}
    installed = {normal_requirement(r) for r in metadata.requirements}
    seen: set[str] = set()
    for text in (*metadata.requirements, *metadata.extras):
        normal = normal_requirement(text)
        if normal in seen:
            continue  # the same requirement read from PKG-INFO and pyproject.toml: report it once
        seen.add(normal)
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            reasons.append(("bad_requirement", f"{text!r} is not a PEP 508 requirement: {exc}"))
            continue
        if canonicalize_name(requirement.name) in denied_names:
            reasons.append(
                ("denied_requirement", f"{requirement.name} is on the deny list (it would replace the image's TF)")
            )
        if normal in installed and (problem := _pin_problem(requirement, pins)):
            reasons.append(("pin_conflict", problem))
    return reasons
