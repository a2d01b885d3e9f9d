"""A package's name, version and requirements, and its entry module's shape, read statically.

PKG-INFO is parsed as an email message, pyproject.toml with `tomllib`, setup.py and the entry module with
`ast`: nothing from the package is ever imported or executed (`compile()` only turns source into a code
object, which is then thrown away).
"""

from __future__ import annotations

import ast
import email.parser
import tomllib
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

Reasons = list[tuple[str, str]]
# In order of authority: PKG-INFO is what the build backend wrote; the others are what the author wrote.
METADATA_FILES = ("PKG-INFO", "pyproject.toml", "setup.py")


@dataclass(frozen=True)
class PackageMetadata:
    name: str
    version: str
    requirements: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class _Partial:
    name: str | None = None
    version: str | None = None
    requirements: tuple[str, ...] | None = None


def _from_pkg_info(raw: bytes) -> _Partial:
    message = email.parser.BytesParser().parsebytes(raw, headersonly=True)
    return _Partial(
        (message.get("Name") or "").strip() or None,
        (message.get("Version") or "").strip() or None,
        tuple(str(r) for r in message.get_all("Requires-Dist") or ()),
    )


def _from_pyproject(raw: bytes) -> _Partial:
    project = tomllib.loads(raw.decode("utf-8")).get("project", {})
    if not isinstance(project, dict):
        raise ValueError("[project] is not a table")
    name, version, dependencies = project.get("name"), project.get("version"), project.get("dependencies")
    return _Partial(
        name if isinstance(name, str) else None,
        version if isinstance(version, str) else None,
        tuple(str(d) for d in dependencies) if isinstance(dependencies, list) else None,
    )


def _literal_keywords(call: ast.Call) -> dict[str, object]:
    found: dict[str, object] = {}
    for keyword in call.keywords:
        if keyword.arg in ("name", "version", "install_requires"):
            try:
                found[keyword.arg] = ast.literal_eval(keyword.value)
            except (ValueError, TypeError, SyntaxError, RecursionError):
                pass  # computed at run time (version=get_version()): unknowable without running it
    return found


def _from_setup_py(raw: bytes) -> _Partial:
    tree = ast.parse(raw, filename="setup.py")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called == "setup":
                found = _literal_keywords(node)
                name, version, requires = found.get("name"), found.get("version"), found.get("install_requires")
                return _Partial(
                    name if isinstance(name, str) else None,
                    version if isinstance(version, str) else None,
                    tuple(str(r) for r in requires) if isinstance(requires, (list, tuple)) else None,
                )
    return _Partial()


_PARSERS = {"PKG-INFO": _from_pkg_info, "pyproject.toml": _from_pyproject, "setup.py": _from_setup_py}


def read_metadata(files: dict[str, bytes]) -> tuple[PackageMetadata | None, Reasons]:
    """Name, version and requirements from the most authoritative file that has them."""
    reasons: Reasons = []
    parsed: dict[str, _Partial] = {}
    for filename in METADATA_FILES:
        if filename in files:
            try:
                parsed[filename] = _PARSERS[filename](files[filename])
            except (ValueError, SyntaxError, RecursionError, UnicodeDecodeError, MemoryError) as exc:
                reasons.append(("bad_metadata", f"{filename} cannot be parsed: {exc.__class__.__name__}: {exc}"))
    if not files:
        return None, [("no_metadata", "no PKG-INFO, pyproject.toml or setup.py at the top of the sdist")]
    source = next((f for f, p in parsed.items() if p.name and p.version), None)
    if source is None:
        reasons.append(("metadata_incomplete", f"no static name and version in {', '.join(sorted(files))}"))
        return None, reasons
    chosen = parsed[source]
    assert chosen.name and chosen.version
    for other, partial in parsed.items():
        if partial.version and partial.version != chosen.version:
            reasons.append(
                ("metadata_conflict", f"{source} says version {chosen.version}, {other} says {partial.version}")
            )
    try:
        Version(chosen.version)
    except InvalidVersion:
        reasons.append(("bad_version", f"version {chosen.version!r} is not a PEP 440 version"))
    return PackageMetadata(chosen.name, chosen.version, chosen.requirements or (), source), reasons


def check_requirements(requirements: tuple[str, ...], denied: frozenset[str]) -> Reasons:
    reasons: Reasons = []
    denied_names = {canonicalize_name(name) for name in denied}
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            reasons.append(("bad_requirement", f"{text!r} is not a PEP 508 requirement: {exc}"))
            continue
        if canonicalize_name(requirement.name) in denied_names:
            reasons.append(
                ("denied_requirement", f"{requirement.name} is on the deny list (it would replace the image's TF)")
            )
    return reasons


def _is_main_guard(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, *test.comparators]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


def _calls_main(node: ast.AST) -> bool:
    """A call of `main` that runs when the statement runs (function and class bodies don't run)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
        return False
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name == "main":
            return True
    return any(_calls_main(child) for child in ast.iter_child_nodes(node))


def check_entry_module(path: str, source: bytes) -> Reasons:
    try:
        tree = ast.parse(source, filename=path)
        compile(tree, path, "exec")  # compile only: the code object is discarded, never executed
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return [("entry_module_syntax", f"{path} does not compile: {exc.__class__.__name__}: {exc}")]
    reasons: Reasons = []
    guards = [node for node in tree.body if isinstance(node, ast.If) and _is_main_guard(node.test)]
    if not guards:
        reasons.append(("no_main_guard", f'{path} has no `if __name__ == "__main__":` guard'))
    unguarded = [node for node in tree.body if not (isinstance(node, ast.If) and node in guards)]
    unguarded += [statement for guard in guards for statement in guard.orelse]
    if any(_calls_main(node) for node in unguarded):
        reasons.append(("unconditional_main", f"{path} calls main() at import time, outside the __main__ guard"))
    return reasons
