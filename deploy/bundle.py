"""Assemble one deployable source directory per Cloud Function.

Cloud Functions deploys a directory with `main.py` and `requirements.txt` at its root. Each bundle is:

    main.py             re-exports the function's target from functions/<module>.py, imported
                        as shared/config/startup.py says (collections paused, frozen before the fork)
    functions/          __init__.py and that one entry module
    shared/             flexrun's core, copied whole (data files such as gpu_catalog.json included)
    image/requirements.lock   the trainer image's pins, which validate-package checks requirements against
    requirements.txt    the lines of the root requirements.txt that the bundle's code imports

The requirements are derived from the code (every import, lazy ones included), so a new import in
`shared/` without a matching requirement fails the build instead of the first event in production.
The build (`cloudbuild.yaml`), the tests and the benchmarks all call `build_bundles`.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from deploy.spec import FUNCTIONS, FunctionSpec

REPO_ROOT = Path(__file__).resolve().parents[1]
COPIED_PACKAGES = ("shared",)
# Data files the core reads from the repository root (`shared.packages.pins`), copied when they exist.
COPIED_FILES = ("image/requirements.lock",)
IGNORED_FILES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")

# Top-level import name → the root requirements.txt distribution that provides it. Names provided
# transitively (google.api_core comes with google-cloud-pubsub) map to the requirement that brings them.
IMPORT_PROVIDERS: dict[str, str] = {
    "functions_framework": "functions-framework",
    "cloudevents": "cloudevents",
    "google.cloud.storage": "google-cloud-storage",
    "google.cloud.pubsub_v1": "google-cloud-pubsub",
    # No function imports google-cloud-storage (shared/cloud/gcs.py speaks its JSON API) nor requests
    # (shared/cloud/http.py): google-auth is named directly, google-api-core comes with Pub/Sub's client.
    "google.api_core": "google-cloud-pubsub",
    "google.auth": "google-auth",
    "google.protobuf": "google-cloud-pubsub",  # through google-api-core
    "google.cloud.aiplatform_v1": "google-cloud-aiplatform",
    "google.cloud.cloudquotas_v1": "google-cloud-quotas",
    "google.cloud.aiplatform": "google-cloud-aiplatform",
    "pydantic": "pydantic",
    "pymongo": "pymongo",
    "bson": "pymongo",
    "packaging": "packaging",
    # The Supabase run store's client and the two libraries of it the store catches errors from.
    "supabase": "supabase",
    "postgrest": "supabase",
    "httpx": "supabase",
}
# Never in a function bundle: the trainer's world is Vertex's image, not a function instance.
FORBIDDEN_IMPORTS = ("tensorflow", "keras", "flexrun_trainer", "local", "tests")
FIRST_PARTY = ("functions", "shared")


class BundleError(Exception):
    """The bundle cannot be built as asked (unknown import, forbidden import, missing requirement)."""


@dataclass(frozen=True)
class Bundle:
    function: FunctionSpec
    path: Path
    requirements: tuple[str, ...]  # requirement lines, as in the root requirements.txt

    @property
    def module(self) -> str:
        return Path(self.function.source).stem


def build_bundles(out_dir: Path, repo_root: Path = REPO_ROOT) -> list[Bundle]:
    """One bundle per function in `deploy.spec.FUNCTIONS`, under out_dir/<function name>/ (replaced)."""
    requirement_lines = _requirement_lines(repo_root / "requirements.txt")
    return [build_bundle(spec, out_dir / spec.name, requirement_lines, repo_root) for spec in FUNCTIONS]


def build_bundle(spec: FunctionSpec, target: Path, requirement_lines: dict[str, str], repo_root: Path) -> Bundle:
    if target.exists():
        shutil.rmtree(target)
    (target / "functions").mkdir(parents=True)
    entry = repo_root / spec.source
    shutil.copy2(repo_root / "functions" / "__init__.py", target / "functions" / "__init__.py")
    shutil.copy2(entry, target / "functions" / entry.name)
    for package in COPIED_PACKAGES:
        shutil.copytree(repo_root / package, target / package, ignore=IGNORED_FILES)
    for name in COPIED_FILES:
        if (repo_root / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo_root / name, target / name)
    (target / "main.py").write_text(_main_py(spec))

    needed = sorted({provider(name) for name in third_party_imports(target)})
    missing = [name for name in needed if name not in requirement_lines]
    if missing:
        raise BundleError(
            f"{spec.name}: its code imports {', '.join(missing)}, which requirements.txt does not list "
            "(add it there, or map the import in deploy.bundle.IMPORT_PROVIDERS)"
        )
    lines = tuple(requirement_lines[name] for name in needed)
    (target / "requirements.txt").write_text(
        f"# {spec.name}: generated by `python -m deploy bundle` from the root requirements.txt\n"
        + "\n".join(lines)
        + "\n"
    )
    return Bundle(function=spec, path=target, requirements=lines)


def _main_py(spec: FunctionSpec) -> str:
    module = Path(spec.source).stem
    return (
        f'"""{spec.name}: Cloud Functions loads `main.py`; the handler lives in functions/{module}.py."""\n\n'
        "from shared.config.startup import imports_before_fork\n\n"
        "with imports_before_fork():  # before gunicorn forks the worker: see shared/config/startup.py\n"
        f"    from functions.{module} import {spec.target}\n\n"
        f'__all__ = ["{spec.target}"]\n'
    )


def third_party_imports(root: Path) -> set[str]:
    """Every non-stdlib, non-flexrun import under root: the longest IMPORT_PROVIDERS key it matches,
    else its top-level name (a distribution of the same name is assumed)."""
    found: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        for name in _imported_names(path):
            top = name.split(".")[0]
            if top in FIRST_PARTY or top in sys.stdlib_module_names or top == "__future__":
                continue
            if top in FORBIDDEN_IMPORTS:
                raise BundleError(f"{path.relative_to(root)} imports {name}: never allowed in a function bundle")
            found.add(_known_prefix(name))
    return found


def _imported_names(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from google.cloud import storage` imports google.cloud.storage, not just google.cloud.
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _known_prefix(name: str) -> str:
    parts = name.split(".")
    for length in range(len(parts), 0, -1):
        candidate = ".".join(parts[:length])
        if candidate in IMPORT_PROVIDERS:
            return candidate
    return parts[0]


def provider(import_name: str) -> str:
    """The requirement (normalised distribution name) that provides an import."""
    return IMPORT_PROVIDERS.get(import_name) or _normalise(import_name)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_lines(path: Path) -> dict[str, str]:
    """Distribution name (normalised) → its requirement line, comments and options dropped."""
    lines: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name = re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0]
        lines[_normalise(name)] = line
    return lines
