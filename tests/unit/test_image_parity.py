"""The trainer image, its lock and the local stand-in agree: one Python, one TensorFlow, one set of pins."""

from __future__ import annotations

import re
from pathlib import Path

from local import executor_image
from shared.jobs.catalog import load_catalog

REPO = Path(__file__).resolve().parents[2]
LOCK_TEXT = executor_image.LOCK.read_text()
DOCKERFILE = (REPO / "image" / "Dockerfile").read_text()


def dockerfile_python() -> str:
    match = re.search(r"^ARG PYTHON_VERSION=(\S+)$", DOCKERFILE, re.M)
    assert match, "image/Dockerfile declares no ARG PYTHON_VERSION"
    return match[1]


def test_local_executor_image_is_what_the_lock_derives():
    assert (REPO / "local" / "executor-image.txt").read_text() == executor_image.derive(LOCK_TEXT), (
        "run `python -m local.executor_image --write` after changing image/requirements.lock"
    )


def test_the_dockerfile_base_is_the_locks_python_pinned_by_digest():
    python = executor_image.python_version(LOCK_TEXT)
    assert dockerfile_python().startswith(python + ".")
    (base,) = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    assert re.fullmatch(r"docker\.io/library/python:\$\{PYTHON_VERSION\}-slim-\w+@sha256:[0-9a-f]{64}", base)


def test_the_dockerfile_installs_the_lock_and_runs_the_launcher():
    assert "COPY image/requirements.lock /opt/flexrun/requirements.lock" in DOCKERFILE
    assert re.search(r"pip install --no-deps -r /opt/flexrun/requirements.lock", DOCKERFILE)
    assert 'ENTRYPOINT ["python", "/opt/flexrun/launcher.py"]' in DOCKERFILE


def test_the_catalog_names_the_locks_tensorflow_and_python_in_the_image_tag():
    pins = executor_image.pins(LOCK_TEXT)
    entry = load_catalog()["images"][load_catalog()["default_image"]]
    assert entry["tensorflow"] == pins["tensorflow"] and entry["python"] == executor_image.python_version(LOCK_TEXT)
    assert entry["uri"].endswith(f":tf{pins['tensorflow']}-py{entry['python']}")


def test_the_makefile_builds_the_executor_venv_with_the_locks_python():
    makefile = (REPO / "Makefile").read_text()
    assert f"command -v python{executor_image.python_version(LOCK_TEXT)}" in makefile
