"""Job start-up: from a replica's process start to the trainer's first line, split into fetch, install, import.

The replica is started as the local Vertex starts a ContainerSpec replica of our trainer image: the
image's entry point (image/launcher.py) on the executor venv's interpreter (the image's Python
environment), with the job's package in Cloud Storage (the local fake-gcs-server). The launcher's own
lines mark the phases: "fetching" → "installing" (fetch + sha256 check) → "running python -m" (layered
venv + pip install under the image's pins) → the trainer's first line (Python start + the trainer's
imports, TensorFlow included). The package is the real trainer (`python -m build --sdist trainer/`).

Cold: a package version pip has never built (an empty pip cache, as on every real Vertex replica,
whose container starts empty). Warm: the same version again with pip's cache from the cold run (what
the local Vertex's own cache gives a package it has seen). The trainer is stopped at its first line.
Baseline: `python -c "import tensorflow"` on the same interpreter, the floor of any TensorFlow job's start.
`pip install` may add what the image lacks, never reinstall what it ships: a distribution of the image
named in pip's "Successfully installed" fails the benchmark; what was added is in the note.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.measurement import Measurement, timed

REPO_ROOT = Path(__file__).resolve().parents[1]
EXECUTOR_PYTHON = REPO_ROOT / ".venv-executor" / "bin" / "python"
LAUNCHER = REPO_ROOT / "image" / "launcher.py"
MARKS = ("fetching", "installing", "running python -m")
FIRST_LINE_TIMEOUT = 600.0


def run() -> list[Measurement]:
    from local.demo import chain
    from local.services.cloud import LocalCloud

    with tempfile.TemporaryDirectory(prefix="flexrun-bench-startup-") as scratch:
        root = Path(scratch)
        package = chain.build_trainer_package(root / "dist")
        with LocalCloud(root / "cloud", services=("pubsub", "gcs")) as cloud:
            upload = chain.upload_package(cloud, package, uploader="bench")
            uri = f"gs://flexrun-packages/{upload.object_name}"
            sha256 = hashlib.sha256(package.read_bytes()).hexdigest()
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(root),
                "STORAGE_EMULATOR_HOST": cloud.env["STORAGE_EMULATOR_HOST"],
                "CLOUD_ML_PROJECT_ID": "local-project",
                "PIP_CACHE_DIR": str(root / "pip-cache"),  # empty: the cold run builds the sdist
                "PYTHONUNBUFFERED": "1",
            }
            cold = _replica(uri, sha256, env, root / "cold")
            warm = _replica(uri, sha256, env, root / "warm")
        import_tf = timed(lambda: subprocess.run([str(EXECUTOR_PYTHON), "-c", "import tensorflow"], check=True))
    rows = []
    for label, phases in (("cold", cold), ("warm", warm)):
        total = sum(phases[k] for k in ("fetch", "install", "import"))
        note = (
            f"process start→fetching {phases['start']:.2f} s, fetch+verify {phases['fetch']:.2f} s, "
            f"venv+install {phases['install']:.2f} s, import→first line {phases['import']:.2f} s; "
            f"installed: {phases['installed']}"
        )
        rows.append(
            Measurement(
                f"job start-up {label}, replica start → trainer's first line",
                total + phases["start"],
                "import tensorflow",
                import_tf,
                "s",
                note=note,
            )  # fmt: skip
        )
        rows.append(
            Measurement(
                f"job start-up {label}: package install",
                phases["install"],
                "import tensorflow",
                import_tf,
                "s",
                note="layered venv + pip install under the image's pins (image/launcher.py)",
            )  # fmt: skip
        )
    return rows


def _replica(uri: str, sha256: str, env: dict[str, str], workdir: Path) -> dict:
    """Run the launcher as a replica; seconds of each phase, from its lines' arrival times."""
    command = [
        *(str(EXECUTOR_PYTHON), str(LAUNCHER), f"--package-uri={uri}", f"--package-sha256={sha256}"),
        *("--module=flexrun_trainer.task", f"--workdir={workdir}", "--", "--output-dir", str(workdir / "out")),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    seen: dict[str, float] = {}
    lines: list[str] = []
    timer = threading.Timer(FIRST_LINE_TIMEOUT, lambda: os.killpg(process.pid, signal.SIGKILL))
    timer.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            now = time.perf_counter() - started
            lines.append(line.rstrip())
            for mark in MARKS:
                if mark not in seen and f"flexrun-launcher: {mark}" in line:
                    seen[mark] = now
            if "running python -m" in seen and "flexrun-launcher:" not in line:
                seen["first line"] = now
                break
    finally:
        timer.cancel()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if "first line" not in seen:
        raise RuntimeError("the replica never reached the trainer's first line:\n" + "\n".join(lines[-20:]))
    installed = next(
        (ln.split("Successfully installed", 1)[1].split() for ln in lines if "Successfully installed" in ln), []
    )
    shipped = _shipped()
    reinstalled = [name for name in installed if name.rsplit("-", 1)[0].lower().replace("_", "-") in shipped]
    if reinstalled:
        raise RuntimeError(f"the install reinstalled what the image ships: {', '.join(reinstalled)}")
    return {
        "start": seen["fetching"],
        "fetch": seen["installing"] - seen["fetching"],
        "install": seen["running python -m"] - seen["installing"],
        "import": seen["first line"] - seen["running python -m"],
        "installed": " ".join(installed) or "nothing",
    }


def _shipped() -> set[str]:
    """The image's distributions (the executor venv stands in for it), normalised names."""
    code = "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'])"
    out = subprocess.run([str(EXECUTOR_PYTHON), "-c", code], capture_output=True, text=True, check=True).stdout
    return {name.strip().lower().replace("_", "-") for name in out.splitlines() if name.strip()}
