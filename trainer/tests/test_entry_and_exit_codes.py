"""The contract with Vertex: the entry guard and the meaning of each exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_module
from flexrun_trainer.task import main


def test_importing_task_module_does_not_start_training(tmp_path: Path) -> None:
    probe = (
        "import json, sys, flexrun_trainer.task; "
        "print(json.dumps(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)))"
    )
    # Even with Vertex's environment set, a plain import must not train or write anything.
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "AIP_MODEL_DIR": str(tmp_path / "out")},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []  # TensorFlow not even imported
    assert not (tmp_path / "out").exists()  # and nothing written


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--output-dir" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--epochs", "0"],
        ["--epochs", "many"],
        ["--window", "-3"],
        ["--epochs", "100000"],
        ["--val-fraction", "0.9"],
        ["--no-such-flag"],
    ],
    ids=[
        "zero-epochs",
        "non-numeric-epochs",
        "negative-window",
        "epochs-over-cap",
        "val-fraction-too-big",
        "unknown-flag",
    ],
)
def test_bad_arguments_exit_2(argv: list[str], tmp_path: Path, no_gcloud_env: None) -> None:
    assert main(["--output-dir", str(tmp_path), *argv]) == 2


def test_missing_output_dir_exits_2(no_gcloud_env: None) -> None:
    assert main([]) == 2


def test_mongodb_without_url_exits_2(tmp_path: Path, no_gcloud_env: None) -> None:
    assert main(["--output-dir", str(tmp_path), "--data", "mongodb"]) == 2


def _csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "content",
    [
        None,  # the file does not exist
        "symbol,date,open,high,low\nSPX,2020-01-02,1,2,1\n",
        "symbol,date,open,high,low,close,volume\nSPX,2020-01-02,1,2,1,-5,100\n",
        "symbol,date,open,high,low,close,volume\nSPX,not-a-date,1,2,1,1.5,100\n",
        "symbol,date,open,high,low,close,volume\n"
        + "".join(f"SPX,2020-01-{d:02d},1,2,1,1.5,100\n" for d in range(1, 20)),
        "\x00\x01 not a csv at all",
    ],
    ids=["missing-file", "missing-close-column", "negative-price", "bad-date", "too-short", "binary-garbage"],
)
def test_bad_data_exits_3(content: str | None, tmp_path: Path, no_gcloud_env: None) -> None:
    data = str(tmp_path / "nope.csv") if content is None else _csv(tmp_path, content)
    assert main(["--output-dir", str(tmp_path / "out"), "--data", data]) == 3


def test_unknown_symbol_exits_3(tmp_path: Path, no_gcloud_env: None) -> None:
    assert main(["--output-dir", str(tmp_path), "--symbols", "NOPE"]) == 3


def test_failed_run_removes_stale_success_marker(tmp_path: Path, no_gcloud_env: None) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "_SUCCESS").write_text("{}")  # left by an earlier, successful run
    assert main(["--output-dir", str(out), "--data", str(tmp_path / "missing.csv")]) == 3
    assert not (out / "_SUCCESS").exists()
    # The staging directory is cleaned up; what is left says why the run failed.
    assert [p.name for p in out.iterdir()] == ["outcome.json"]


def test_python_dash_m_reports_exit_code_and_json_log(tmp_path: Path) -> None:
    result = run_module("flexrun_trainer.task", "--output-dir", str(tmp_path), "--data", str(tmp_path / "missing.csv"))
    assert result.returncode == 3
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    failure = lines[-1]
    assert failure["severity"] == "ERROR" and failure["event"] == "run_failed" and failure["exit_code"] == 3


def test_failed_run_writes_its_reason_and_last_error_line(tmp_path: Path, no_gcloud_env: None) -> None:
    out = tmp_path / "out"
    assert main(["--output-dir", str(out), "--data", str(tmp_path / "missing.csv")]) == 3
    doc = json.loads((out / "outcome.json").read_text())
    assert doc["status"] == "failed" and doc["exit_code"] == 3 and doc["reason"] == "data_error"
    assert doc["error_type"] == "DataError" and "missing.csv" in doc["error"]


def test_bad_arguments_are_reported_in_the_output_dir_too(tmp_path: Path, no_gcloud_env: None) -> None:
    assert main(["--output-dir", str(tmp_path), "--epochs", "0"]) == 2
    doc = json.loads((tmp_path / "outcome.json").read_text())
    assert (doc["exit_code"], doc["reason"]) == (2, "bad_arguments")


def test_outcome_never_carries_url_credentials() -> None:
    from flexrun_trainer.outcome import document

    doc = document(2, ValueError("cannot reach mongodb://admin:s3cret@db.example:27017/x\nsecond line"))
    assert "s3cret" not in json.dumps(doc) and doc["error"] == "second line"
    doc = document(2, ValueError("bad mongodb+srv://admin:s3cret@db.example/x"))
    assert "s3cret" not in doc["error"] and "***@" in doc["error"]
