"""Each function's core stands alone: none imports another function's core (they talk through topics)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORES = {
    "validate-package": "shared.packages.validate_package",
    "submit-run": "shared.runs.submit_run",
    "job-state": "shared.runs.job_state",
}


def _imports(module: str) -> set[str]:
    tree = ast.parse((REPO / (module.replace(".", "/") + ".py")).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("function", sorted(CORES))
def test_a_function_core_never_imports_another_functions_core(function: str):
    others = {module for name, module in CORES.items() if name != function}
    assert not _imports(CORES[function]) & others


def test_only_submit_run_creates_vertex_jobs():
    creators = [
        path.relative_to(REPO).as_posix()
        for path in sorted((REPO / "shared").rglob("*.py")) + sorted((REPO / "functions").rglob("*.py"))
        if ".create_custom_job(" in path.read_text()  # a call; shared/jobs/vertex_rest.py defines the method
    ]
    assert creators == ["shared/runs/submit_run.py"]
