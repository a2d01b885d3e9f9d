"""The executor venv (the image's stand-in) against the lock; the trainer sdist installed on it as the launcher does.

Both need the executor venv that `make install` builds, so they run with the integration tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local import executor_image

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
EXECUTOR = REPO / ".venv-executor" / "bin" / "python"
LOCK_TEXT = executor_image.LOCK.read_text()
DISTRIBUTIONS = (
    "import importlib.metadata as m, json, sys\n"
    "print(json.dumps({'python': '%d.%d' % sys.version_info[:2], 'dists': "
    "{d.metadata['Name'].lower().replace('_', '-'): d.version for d in m.distributions()}}))"
)


def run_json(python: Path, code: str) -> dict:
    return json.loads(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout)


def test_the_executor_venv_holds_exactly_the_locks_versions():
    seen = run_json(EXECUTOR, DISTRIBUTIONS)
    assert seen["python"] == executor_image.python_version(LOCK_TEXT)
    wanted = executor_image.pins(executor_image.derive(LOCK_TEXT))
    differ = {n: (v, seen["dists"].get(n)) for n, v in wanted.items() if seen["dists"].get(n) != v}
    assert not differ, f"the executor venv differs from the lock (wanted, installed): {differ}"


def test_installing_the_trainer_sdist_changes_nothing_the_image_ships_and_pip_check_is_clean(tmp_path: Path):
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(tmp_path / "dist"), "trainer"],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    (sdist,) = (tmp_path / "dist").glob("flexrun_trainer-*.tar.gz")
    # The launcher's own steps, run by the image's interpreter: layered venv, install under the lock.
    steps = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, 'image'); import launcher\n"
        f"python = launcher.layered_venv(Path({str(tmp_path / 'venv')!r}))\n"
        "before = launcher.distributions(python)\n"
        f"launcher.install(python, Path({str(sdist)!r}), launcher.LOCK)\n"
        "print(json.dumps({'before': before, 'after': launcher.distributions(python)}))\n"
    )
    done = subprocess.run([str(EXECUTOR), "-c", steps], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    before, after = seen["before"], seen["after"]
    assert {n: after.get(n) for n in before if after.get(n) != before[n]} == {}
    assert "flexrun-trainer" in set(after) - set(before)
    check = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-m", "pip", "check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
