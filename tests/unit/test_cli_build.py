"""`flexrun package build` refuses to produce a package the validate function would reject."""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner

from cli.__main__ import main

PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "flexrun-trainer"
version = "0.0.1"

[tool.setuptools.packages.find]
where = ["src"]
"""


def source_tree(root: Path, task: str) -> Path:
    package = root / "src" / "flexrun_trainer"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "task.py").write_text(textwrap.dedent(task))
    (root / "pyproject.toml").write_text(PYPROJECT)
    return root


def test_build_of_a_guarded_module_succeeds_and_names_the_sdist(tmp_path: Path):
    source = source_tree(tmp_path / "ok", "def main():\n    return 0\n\nif __name__ == '__main__':\n    main()\n")
    result = CliRunner().invoke(main, ["package", "build", str(source), "--outdir", str(tmp_path / "dist")])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].endswith("flexrun_trainer-0.0.1.tar.gz")


def test_build_of_a_module_that_trains_on_import_fails_with_the_reason(tmp_path: Path):
    source = source_tree(tmp_path / "bad", "def main():\n    return 0\n\nmain()\n")
    result = CliRunner().invoke(main, ["package", "build", str(source), "--outdir", str(tmp_path / "dist")])
    assert result.exit_code != 0
    assert "no_main_guard" in result.output and "unconditional_main" in result.output
