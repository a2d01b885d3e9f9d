"""`flexrun package check`: the upload's static verdict on local files, offline, one line per file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.__main__ import main
from tests.sdists import sdist

ROOT = "flexrun_trainer-0.1.0"
# One package per class of problem that passes PKG-INFO-only checks but breaks the install or unpacking.
HOSTILE = {
    "denied_requirement": sdist(
        extra=[
            (
                f"{ROOT}/pyproject.toml",
                b'[project]\nname = "flexrun-trainer"\nversion = "0.1.0"\ndependencies = ["tensorflow-cpu"]\n',
            )
        ]
    ),
    "pin_conflict": sdist(requires=("numpy<1.20",)),
    "startup_hook": sdist(extra=[(f"{ROOT}/src/zz_flexrun.pth", b"import os; os.system('true')\n")]),
    "name_too_long": sdist(extra=[(f"{ROOT}/{'n' * 300}", b"")]),
    "case_conflict": sdist(extra=[(f"{ROOT}/src/flexrun_trainer/TASK.py", b"")]),
    "metadata_conflict": sdist(extra=[(f"{ROOT}/setup.cfg", b"[metadata]\nname = someone-else\nversion = 0.1.0\n")]),
}


def _write(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for code, data in HOSTILE.items():
        files[code] = tmp_path / f"{code}.tar.gz"
        files[code].write_bytes(data)
    (tmp_path / "pins.lock").write_text("numpy==1.26.4\n")
    return files


def _check(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["package", "check", *args])
    return result.exit_code, result.stdout, result.stderr


def test_check_rejects_each_class_with_its_reason_code_one_line_per_file(tmp_path: Path):
    files = _write(tmp_path)
    code, out, err = _check(*map(str, files.values()), "--pins", str(tmp_path / "pins.lock"))
    assert code == 1
    lines = out.strip().splitlines()
    assert len(lines) == len(files)
    for (reason, path), line in zip(files.items(), lines, strict=True):
        assert line.startswith(f"{path}: rejected (") and reason in line
    assert "pins.lock" in err  # which pins were used


def test_check_json_gives_every_verdict_and_reason(tmp_path: Path):
    files = _write(tmp_path)
    code, out, _ = _check(str(files["startup_hook"]), "--json")
    document = json.loads(out)
    assert code == 1 and document["files"][0]["verdict"] == "rejected"
    assert document["files"][0]["reasons"][0]["code"] == "startup_hook"


def test_check_accepts_the_sdist_that_package_build_makes(tmp_path: Path):
    built = CliRunner().invoke(main, ["package", "build", "trainer", "--outdir", str(tmp_path)])
    assert built.exit_code == 0, built.output
    sdist_path = built.stdout.strip().splitlines()[-1]
    code, out, err = _check(sdist_path)
    assert code == 0, err
    assert (
        out.strip()
        == f"{sdist_path}: accepted (flexrun-trainer {_trainer_version()}, entry module flexrun_trainer.task)"
    )
    code, out, _ = _check(sdist_path, "--json")
    assert code == 0 and json.loads(out)["files"][0]["entry_module"] == "flexrun_trainer.task"


def _trainer_version() -> str:
    import tomllib

    return tomllib.loads(Path("trainer/pyproject.toml").read_text())["project"]["version"]
