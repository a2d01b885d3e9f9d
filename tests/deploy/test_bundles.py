"""Each function bundle deploys as built: installed alone in a clean venv, served by functions-framework,
it answers a real CloudEvent. No TensorFlow, no trainer, nothing from the repository outside the bundle."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest
from cloudevents.conversion import to_binary

from deploy.bundle import BundleError, build_bundles, third_party_imports
from deploy.smoke_events import EVENTS
from deploy.spec import FUNCTIONS
from shared.polling import poll
from tests.deploy.conftest import REPO_ROOT, TEST_BUCKET, TEST_PROJECT

NAMES = [spec.name for spec in FUNCTIONS]


@pytest.mark.parametrize("name", NAMES)
def test_a_bundle_is_main_py_requirements_and_shared_without_trainer_code(bundles, name):
    bundle = bundles[name]
    files = {path.relative_to(bundle.path).as_posix() for path in bundle.path.rglob("*") if path.is_file()}
    assert {"main.py", "requirements.txt", "shared/config/settings.py", "functions/__init__.py"} <= files
    assert f"functions/{bundle.module}.py" in files
    assert len([f for f in files if f.startswith("functions/")]) == 2, "only this function's entry module"
    assert not [f for f in files if f.startswith(("trainer/", "local/", "tests/")) or "__pycache__" in f]
    requirements = (bundle.path / "requirements.txt").read_text().lower()
    assert "tensorflow" not in requirements and "functions-framework" in requirements
    assert f"import {bundle.function.target}" in (bundle.path / "main.py").read_text()


def test_tensorflow_or_trainer_code_in_a_bundle_fails_the_build(tmp_path):
    for source in ("import tensorflow\n", "def f():\n    from flexrun_trainer import task\n"):
        (tmp_path / "main.py").write_text(source)
        with pytest.raises(BundleError, match="never allowed"):
            third_party_imports(tmp_path)


def test_a_lazy_import_missing_from_requirements_fails_the_build(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "shared", repo / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "functions", repo / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "shared" / "extra.py").write_text("def f():\n    import leftpad\n")
    (repo / "requirements.txt").write_text((REPO_ROOT / "requirements.txt").read_text())
    with pytest.raises(BundleError, match="leftpad, which requirements.txt does not list"):
        build_bundles(tmp_path / "out", repo_root=repo)


def test_the_image_pins_travel_with_the_bundle_and_validation_reads_them_there(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "shared", repo / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "functions", repo / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "requirements.txt").write_text((REPO_ROOT / "requirements.txt").read_text())
    (repo / "image").mkdir()
    (repo / "image" / "requirements.lock").write_text("numpy==1.26.4\n")
    (validate,) = [b for b in build_bundles(tmp_path / "out", repo_root=repo) if b.module == "validate_package"]
    read = "from shared.packages.pins import default_pins as p; print(p().source, dict(p().versions))"
    shown = subprocess.run(
        [sys.executable, "-c", read], cwd=validate.path, capture_output=True, text=True, check=True
    ).stdout
    assert shown.strip() == "image/requirements.lock {'numpy': <Version('1.26.4')>}"


@pytest.mark.parametrize("name", NAMES)
def test_every_import_in_a_bundle_resolves_in_its_clean_venv(bundle_envs, name):
    env = bundle_envs[name]
    modules = sorted(third_party_imports(env.bundle.path))
    script = (
        "import importlib, json, sys\n"
        f"import main\nassert callable(main.{env.bundle.function.target})\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "import shared\nprint(json.dumps({'shared': shared.__file__, 'tf': 'tensorflow' in sys.modules}))\n"
    )
    result = subprocess.run(
        [str(env.python), "-E", "-c", script], cwd=env.bundle.path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["shared"].startswith(str(env.bundle.path)) and not found["tf"]


# The reconciler has no event it answers without reaching its run store: its bundle is proven by the
# import check above, its behaviour by the integration tests.
@pytest.mark.parametrize("name", sorted(EVENTS))
def test_functions_framework_serves_the_bundle_and_answers_a_cloudevent(bundle_envs, name, tmp_path):
    env = bundle_envs[name]
    event, expected_log = EVENTS[name]
    port = _free_port()
    # An authorized-user credentials file lets google-auth build clients offline; nothing calls Google.
    adc = tmp_path / "adc.json"
    adc.write_text(
        json.dumps({"type": "authorized_user", "client_id": "x", "client_secret": "y", "refresh_token": "z"})
    )
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "GCP_PROJECT_ID": TEST_PROJECT,
        "GCP_BUCKET_NAME": TEST_BUCKET,
        "GOOGLE_APPLICATION_CREDENTIALS": str(adc),
        # As --set-secrets provides it in production; pymongo connects lazily and nothing here reaches it.
        "MONGODB_URL": "mongodb://127.0.0.1:9/flexrun",
    }
    command = [
        str(env.functions_framework),
        *("--source", "main.py", "--target", env.bundle.function.target, "--signature-type", "cloudevent"),
        *("--host", "127.0.0.1", "--port", str(port)),
    ]
    log = tmp_path / "server.log"
    with log.open("w") as sink:
        server = subprocess.Popen(command, cwd=env.bundle.path, env=environment, stdout=sink, stderr=subprocess.STDOUT)
    try:
        headers, body = to_binary(event)
        response = _post_when_up(f"http://127.0.0.1:{port}/", headers, body, server)
        time.sleep(0.2)  # the handler's log line is flushed right after the response
        output = log.read_text()
        assert response.status_code == 200, output[-3000:]
        assert expected_log in output, output[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _post_when_up(url: str, headers: dict, body: bytes, server: subprocess.Popen, timeout: float = 60.0):
    def answered() -> httpx.Response | None:
        try:
            return httpx.post(url, headers=headers, content=body, timeout=30)
        except httpx.TransportError:
            if server.poll() is not None:
                raise
            return None

    return poll(answered, timeout=timeout, what=f"{url} to answer")


# Cold start (shared/config/startup.py): gunicorn imports `main` in its arbiter, then forks the worker. The
# imports run with collections paused and end frozen, and what a function's every real event needs is
# imported with them, not by the worker on its first event; validate-package keeps MongoDB's driver out.
@pytest.mark.parametrize(
    ("name", "preloaded"), [("submit-run", True), ("job-state", True), ("validate-package", False)]
)
def test_a_bundles_main_imports_before_the_fork_frozen_with_its_real_paths_clients(bundles, name, preloaded):
    script = (
        "import gc, sys\nimport main\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 10000, "
        "all(m in sys.modules for m in ('pymongo', 'shared.cloud.gcs', 'shared.jobs.vertex_rest')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=bundles[name].path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["True", "True", str(preloaded)]


# Cold start: proto-plus/protobuf (google.events) cost ~40 ms, pydantic_settings ~60 ms. The event data is read
# by shared/events/proto_json.py and the settings by a plain model, so no bundle carries either distribution
# and a function's start and first event import neither.
@pytest.mark.parametrize("name", ["validate-package", "submit-run"])
def test_a_bundles_first_event_parses_without_importing_google_events_protobuf_or_pydantic_settings(bundles, name):
    bundle = bundles[name]
    assert not [line for line in bundle.requirements if line.startswith(("google-events", "pydantic-settings"))]
    script = (
        "import sys\nfrom cloudevents.http import CloudEvent\nimport main\n"
        "from shared.events import cloudevents as ce\n"
        "ce.parse_storage_object(CloudEvent({'type': ce.STORAGE_FINALIZED, 'source': 's', 'id': '1'},"
        " {'bucket': 'b', 'name': 'n', 'generation': '1', 'timeCreated': '2026-01-01T00:00:00Z'}))\n"
        "ce.parse_pubsub_message(CloudEvent({'type': ce.PUBSUB_PUBLISHED, 'source': 's', 'id': '2'},"
        " {'message': {'data': 'e30=', 'messageId': '1', 'publishTime': '2026-01-01T00:00:00Z'}}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'proto' or m.startswith("
        "('google.events', 'google.protobuf', 'pydantic_settings'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=bundle.path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"
