"""Session fixtures for the deploy checks: the plan for a test project, gcloud's help, built bundles,
and one clean virtual environment per bundle (only its requirements.txt installed).

Installing three environments is the slow part; wheels are kept in .cache/deploy-wheels/ so that
only the first run on a machine downloads from PyPI, and bundles whose requirements are identical share one environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy import cloudbuild
from deploy.bundle import Bundle, build_bundles
from deploy.plan import plan_steps
from deploy.smoke_events import TEST_BUCKET, TEST_PROJECT
from tests.deploy.gcloud_help import HelpCache, gcloud_available

REPO_ROOT = Path(__file__).resolve().parents[2]
WHEEL_CACHE = REPO_ROOT / ".cache" / "deploy-wheels"
# The interpreter of the bundles' clean environments. Cloud Functions runs python312; point this
# variable at a 3.12 interpreter to match it exactly. Default: the interpreter running the tests.
BUNDLE_PYTHON = os.environ.get("FLEXRUN_BUNDLE_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def steps() -> list[cloudbuild.Step]:
    return plan_steps(TEST_PROJECT, project_number="123456789012", overrides={"_BUCKET": TEST_BUCKET})


@pytest.fixture(scope="session")
def invocations(steps: list[cloudbuild.Step]) -> list[cloudbuild.Invocation]:
    return [invocation for step in steps for invocation in cloudbuild.gcloud_invocations(step)]


@pytest.fixture(scope="session")
def gcloud_help() -> HelpCache:
    if not gcloud_available():
        pytest.skip("the Google Cloud CLI (gcloud) is not installed here")
    return HelpCache()


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Bundle]:
    built = build_bundles(tmp_path_factory.mktemp("bundles"))
    return {bundle.function.name: bundle for bundle in built}


@dataclass(frozen=True)
class BundleEnv:
    bundle: Bundle
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def functions_framework(self) -> Path:
        return self.venv / "bin" / "functions-framework"


@pytest.fixture(scope="session")
def bundle_envs(bundles: dict[str, Bundle], tmp_path_factory: pytest.TempPathFactory) -> dict[str, BundleEnv]:
    """A clean venv per distinct requirements.txt: bundles with identical requirements share one."""
    root = tmp_path_factory.mktemp("bundle-venvs")
    wheels = WHEEL_CACHE / _python_tag()
    wheels.mkdir(parents=True, exist_ok=True)
    by_requirements: dict[tuple[str, ...], list[Bundle]] = {}
    for bundle in bundles.values():
        by_requirements.setdefault(bundle.requirements, []).append(bundle)
    for group in by_requirements.values():
        _ensure_wheels(group[0].path / "requirements.txt", wheels)

    def install(index_group: tuple[int, list[Bundle]]) -> list[BundleEnv]:
        index, group = index_group
        venv = _clean_venv(group[0], root / f"venv-{index}", wheels)
        return [BundleEnv(bundle=bundle, venv=venv) for bundle in group]

    with ThreadPoolExecutor(max_workers=len(by_requirements)) as pool:
        envs = [env for group in pool.map(install, enumerate(by_requirements.values())) for env in group]
    return {env.bundle.function.name: env for env in envs}


def _python_tag() -> str:
    out = subprocess.run(
        [BUNDLE_PYTHON, "-c", "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def _pip(*args: str | Path) -> subprocess.CompletedProcess[str]:
    # The test environment's pip installs into the clean venv (`--python`): the venv itself gets no pip.
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", "--python", BUNDLE_PYTHON]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, timeout=900)


def _ensure_wheels(requirements: Path, wheels: Path) -> None:
    """Download (once per machine) every wheel the bundle needs into the local cache."""
    probe = _pip("install", "--dry-run", "--ignore-installed", "--no-index", "--find-links", wheels, "-r", requirements)
    if probe.returncode == 0:
        return
    fetched = _pip("wheel", "--wheel-dir", wheels, "-r", requirements)
    if fetched.returncode != 0:
        pytest.fail(f"could not fetch wheels for {requirements}:\n{fetched.stderr[-3000:]}")


def _clean_venv(bundle: Bundle, venv: Path, wheels: Path) -> Path:
    subprocess.run([BUNDLE_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    command = [
        sys.executable,
        "-m",
        "pip",
        "--disable-pip-version-check",
        "--quiet",
        "--python",
        str(venv / "bin" / "python"),
    ]
    install = subprocess.run(
        [*command, "install", "--no-index", "--find-links", str(wheels), "-r", str(bundle.path / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if install.returncode != 0:
        pytest.fail(f"{bundle.function.name}: installing requirements.txt failed:\n{install.stderr[-3000:]}")
    return venv
