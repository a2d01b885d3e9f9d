"""image/launcher.py builds a run's sdist with the image's setuptools when that meets the package's
[build-system] requires, and leaves any other backend to pip's isolated build."""

from __future__ import annotations

import importlib.metadata
import io
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "image"))
import launcher  # noqa: E402 — the image's entry point is a script, not a package


def sdist(tmp_path: Path, pyproject: str | None) -> Path:
    path = tmp_path / "flexrun_trainer-0.1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        files = {"flexrun_trainer-0.1.0/PKG-INFO": "Metadata-Version: 2.1\n"}
        if pyproject is not None:
            files["flexrun_trainer-0.1.0/pyproject.toml"] = pyproject
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return path


def test_the_build_requirements_are_the_sdists_build_system_requires(tmp_path: Path):
    package = sdist(tmp_path, '[build-system]\nrequires = ["setuptools>=68", "wheel"]\n')
    assert launcher.build_requires(package) == ["setuptools>=68", "wheel"]


def test_an_sdist_without_pyproject_or_build_system_gets_pips_default_requirement(tmp_path: Path):
    assert launcher.build_requires(sdist(tmp_path, None)) == ["setuptools>=40.8.0"]
    (tmp_path / "b").mkdir()
    assert launcher.build_requires(sdist(tmp_path / "b", '[project]\nname = "x"\n')) == ["setuptools>=40.8.0"]


def test_requirements_the_image_meets_build_in_place_and_others_do_not():
    packaging = importlib.metadata.version("packaging")
    assert launcher.image_satisfies([f"packaging=={packaging}", 'nonexistent-dist; python_version < "3"'])
    assert not launcher.image_satisfies([f"packaging>{packaging}"])
    assert not launcher.image_satisfies(["hatchling-that-is-not-installed>=1"])
    assert not launcher.image_satisfies(["not a requirement !!"])
