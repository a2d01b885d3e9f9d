"""What each file pip may build an sdist from says about its name, version and requirements.

PKG-INFO is parsed as an email message, `pyproject.toml` with `tomllib`, `setup.cfg` with `configparser`,
`setup.py` with `ast` (literal keyword values only): nothing from the package is imported or executed.
"""

from __future__ import annotations

import ast
import configparser
import email.parser
import re
import tomllib
from dataclasses import dataclass

Reasons = list[tuple[str, str]]
# In order of authority: PKG-INFO is what the build backend wrote; the others are what the author wrote.
METADATA_FILES = ("PKG-INFO", "pyproject.toml", "setup.cfg", "setup.py")
_EXTRA_MARKER = re.compile(r"\bextra\b")
# setuptools also reads setup.cfg and setup.py; every other backend reads a static `[project]` only (or,
# without one, a format of its own such as `[tool.poetry]`, which is not checked: refused).
SETUPTOOLS_BACKENDS = ("setuptools.build_meta", "setuptools.build_meta:__legacy__")


@dataclass(frozen=True)
class Declared:
    """What one file says. None: it says nothing about that field (another file or the backend does)."""

    name: str | None = None
    version: str | None = None
    requirements: tuple[str, ...] | None = None  # what `pip install` installs (no extras)
    extras: tuple[str, ...] = ()  # optional extras' requirements: checked, never installed by a job
    computed: tuple[str, ...] = ()  # fields this file computes at build time
    entry_module: str | None = None  # `[tool.flexrun] entry-module` (pyproject.toml only)
    requires_python: str | None = None  # pip refuses to install where the image's Python is outside it
    unchecked_backend: str | None = None  # a build backend that takes its metadata from elsewhere


def _split_extras(texts: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """PKG-INFO lists extras' requirements as `Requires-Dist: x; extra == "name"`."""
    installed: list[str] = []
    extras: list[str] = []
    for text in texts:
        marker = text.partition(";")[2]
        (extras if _EXTRA_MARKER.search(marker) else installed).append(text)
    return tuple(installed), tuple(extras)


def _from_pkg_info(raw: bytes) -> Declared:
    message = email.parser.BytesParser().parsebytes(raw, headersonly=True)
    installed, extras = _split_extras([str(r).strip() for r in message.get_all("Requires-Dist") or ()])
    # Metadata 2.2 `Dynamic:` names fields the backend fills in only when it builds.
    dynamic = {str(d).strip().lower() for d in message.get_all("Dynamic") or ()}
    return Declared(
        (message.get("Name") or "").strip() or None,
        (message.get("Version") or "").strip() or None,
        installed,
        extras,
        computed=tuple(f for f in ("name", "version", "requires-dist") if f in dynamic),
        requires_python=(message.get("Requires-Python") or "").strip() or None,
    )


def _strings(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} is not a list of strings")
    return tuple(value)


def _from_pyproject(raw: bytes) -> Declared:
    document = tomllib.loads(raw.decode("utf-8"))
    tool = document.get("tool", {}).get("flexrun", {}) if isinstance(document.get("tool"), dict) else {}
    entry = tool.get("entry-module") if isinstance(tool, dict) else None
    if entry is not None and not isinstance(entry, str):
        raise ValueError("[tool.flexrun] entry-module is not a string")
    system = document.get("build-system", {})
    backend = system.get("build-backend") if isinstance(system, dict) else None
    project = document.get("project")
    if project is None:
        if isinstance(backend, str) and backend not in SETUPTOOLS_BACKENDS:
            return Declared(entry_module=entry, unchecked_backend=backend)
        return Declared(entry_module=entry)  # setuptools then reads setup.cfg / setup.py
    if not isinstance(project, dict):
        raise ValueError("[project] is not a table")
    dynamic = set(_strings(project.get("dynamic", []), "[project] dynamic"))
    name, version = project.get("name"), project.get("version")
    if not isinstance(name, str) or (version is not None and not isinstance(version, str)):
        raise ValueError("[project] name (required) and version must be strings")
    # PEP 621: a field neither given nor listed in `dynamic` is empty.
    requirements = None if "dependencies" in dynamic else _strings(project.get("dependencies", []), "dependencies")
    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        raise ValueError("[project] optional-dependencies is not a table")
    extras = tuple(r for key, group in optional.items() for r in _strings(group, f"optional-dependencies.{key}"))
    python = project.get("requires-python")
    if python is not None and not isinstance(python, str):
        raise ValueError("[project] requires-python is not a string")
    return Declared(name, version, requirements, extras, entry_module=entry, requires_python=python)


def _from_setup_cfg(raw: bytes) -> Declared:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(raw.decode("utf-8"), source="setup.cfg")
    computed: list[str] = []

    def option(section: str, key: str) -> str | None:
        value = parser.get(section, key, fallback=None)
        if value is not None and value.strip().startswith(("attr:", "file:")):
            computed.append(key)  # read from the package's code or another file when setuptools builds
            return None
        return value

    def lines(value: str | None) -> tuple[str, ...]:
        return tuple(s for s in (line.strip() for line in (value or "").splitlines()) if s and not s.startswith("#"))

    name, version = option("metadata", "name"), option("metadata", "version")
    requires = option("options", "install_requires")
    extras_section = "options.extras_require"
    extras = (
        [option(extras_section, key) for key in parser.options(extras_section)]
        if parser.has_section(extras_section)
        else []
    )
    return Declared(
        (name or "").strip() or None,
        (version or "").strip() or None,
        lines(requires) if requires is not None else None,
        tuple(r for value in extras for r in lines(value)),
        tuple(computed),
        requires_python=(option("options", "python_requires") or "").strip() or None,
    )


def _from_setup_py(raw: bytes) -> Declared:
    tree = ast.parse(raw, filename="setup.py")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called != "setup":
            continue
        found: dict[str, object] = {}
        computed: list[str] = []
        for keyword in node.keywords:
            if keyword.arg is None:  # setup(**options): every field may come from it
                computed += ["name", "version", "install_requires"]
            elif keyword.arg in ("name", "version", "install_requires", "extras_require", "python_requires"):
                try:
                    found[keyword.arg] = ast.literal_eval(keyword.value)
                except (ValueError, TypeError, SyntaxError, RecursionError):
                    computed.append(keyword.arg)  # version=get_version(): unknowable without running it
        name, version, requires = found.get("name"), found.get("version"), found.get("install_requires")
        extras = found.get("extras_require", {})
        extra_texts = [r for group in (extras.values() if isinstance(extras, dict) else ()) for r in _as_list(group)]
        python = found.get("python_requires")
        return Declared(
            name if isinstance(name, str) else None,
            version if isinstance(version, str) else None,
            _as_list(requires) if "install_requires" in found else None,
            tuple(extra_texts),
            tuple(dict.fromkeys(computed)),
            requires_python=python if isinstance(python, str) else None,
        )
    return Declared()


def _as_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(s.strip() for s in value.splitlines() if s.strip())
    return tuple(str(v) for v in value) if isinstance(value, (list, tuple)) else ()


_PARSERS = {
    "PKG-INFO": _from_pkg_info,
    "pyproject.toml": _from_pyproject,
    "setup.cfg": _from_setup_cfg,
    "setup.py": _from_setup_py,
}


def parse_file(filename: str, raw: bytes) -> tuple[Declared | None, Reasons]:
    try:
        return _PARSERS[filename](raw), []
    except (ValueError, SyntaxError, RecursionError, UnicodeDecodeError, MemoryError, configparser.Error) as exc:
        return None, [("bad_metadata", f"{filename} cannot be parsed: {exc.__class__.__name__}: {exc}")]
