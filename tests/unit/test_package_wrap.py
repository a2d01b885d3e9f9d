"""`flexrun package wrap`: one script becomes a package the upload accepts, runnable as `<pkg>.task`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

import cli.package_wrap
from cli.__main__ import main
from cli.package_wrap import next_version, write_tree
from shared.packages.manifest import Manifest, ManifestEntry, VersionStatus
from shared.packages.safety import inspect_package

EXAMPLE = Path("examples/predict.py")


def _entry(version: str, status: VersionStatus = VersionStatus.VALIDATED) -> ManifestEntry:
    return ManifestEntry(
        version=version, status=status, object_name=f"packages/{version}", generation=1, uri="gs://b/o"
    )


def _wrap(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["package", "wrap", *args, "--outdir", str(tmp_path / "dist")])
    return result.exit_code, result.stdout, result.stderr


def test_the_next_version_is_one_more_than_the_largest_major_the_manifest_has_seen():
    assert next_version(Manifest()) == "1"
    assert next_version(Manifest(entries=[_entry("0.1.0")])) == "1"  # newer than the trainer's 0.x
    entries = [_entry("0.1.0"), _entry("3"), _entry("7", VersionStatus.REJECTED), _entry("not a version")]
    assert next_version(Manifest(entries=entries)) == "8"  # a quarantined number is never reused


def test_wrapped_example_is_accepted_with_its_own_entry_module_and_requirements(tmp_path: Path):
    code, out, err = _wrap(tmp_path, str(EXAMPLE), "--requirements", "examples/requirements.txt", "--version", "4")
    assert code == 0, err
    built = Path(out.strip().splitlines()[-1])
    assert built.name == "predict-4.tar.gz" and "accepted (predict 4, entry module predict.task)" in err
    info = inspect_package(built.read_bytes(), entry_module="flexrun_trainer.task")
    assert (info.entry_module, info.requirements) == ("predict.task", ("numpy>=1.23",))


def test_without_a_version_wrap_takes_the_next_free_one_from_the_manifest(tmp_path: Path, monkeypatch):
    manifest = Manifest(entries=[_entry("0.1.0"), _entry("2")])
    target = SimpleNamespace(
        description="test target",
        settings=SimpleNamespace(gcp_bucket_name="b"),
        manifest=SimpleNamespace(read=lambda: (manifest, 5)),
    )
    monkeypatch.setattr(cli.package_wrap, "load_target", lambda env_file: target)
    code, out, err = _wrap(tmp_path, str(EXAMPLE), "--name", "nightly-predict")
    assert code == 0, err
    assert out.strip().splitlines()[-1].endswith("nightly_predict-3.tar.gz")


def test_the_entry_module_runs_a_script_without_guard_or_main_with_its_arguments(tmp_path: Path):
    script = tmp_path / "plain.py"
    script.write_text("import sys\nprint('plain ran with', sys.argv[1:], __name__)\nsys.exit(3)\n")
    tree = tmp_path / "tree"
    write_tree(tree, script, name="plain", version="1", package="plain", requirements=[])
    ran = subprocess.run([sys.executable, "-m", "plain.task", "--x", "1"], cwd=tree, capture_output=True, text=True)
    assert (ran.returncode, ran.stdout.strip()) == (3, "plain ran with ['--x', '1'] __main__")


@pytest.mark.parametrize(
    ("requirements", "args", "expected"),
    [
        ("numpy<1.0\n", (), "pin_conflict"),  # the image's numpy could not stay
        ("--index-url https://example.invalid/simple\nnumpy\n", (), "is a pip option"),
        ("pandas >>> 2\n", (), "not a PEP 508 requirement"),
        ("", ("--name", "json"), "would shadow 'json'"),  # the standard library's
        ("", ("--name", "numpy"), "would shadow 'numpy'"),  # a distribution the image ships
        ("", ("--name", "1st"), "not a Python identifier"),
    ],
)
def test_wrap_refuses_what_would_not_deploy_and_says_why(tmp_path: Path, requirements, args, expected):
    listed = tmp_path / "requirements.txt"
    listed.write_text(requirements)
    code, _, err = _wrap(tmp_path, str(EXAMPLE), "--requirements", str(listed), "--version", "1", *args)
    assert code == 1 and expected in err
    assert not list((tmp_path / "dist").glob("*.tar.gz"))  # nothing to upload by mistake


def test_wrap_refuses_a_script_that_does_not_compile(tmp_path: Path):
    script = tmp_path / "broken.py"
    script.write_text("def f(:\n")
    code, _, err = _wrap(tmp_path, str(script), "--version", "1")
    assert code == 1 and "does not compile" in err
