"""Cold start, peak memory and size of each deployable function bundle, against a hello-world function.

Cold start = `functions-framework` process start → first CloudEvent answered (200), on the same
framework and interpreter as a hello-world cloud_event function. Each function is timed on its real
event, the one a user waits on (bench/real_events.py: a new package validated and promoted, a run
message that creates a job, a job's final log line that finishes the record and posts to Slack),
and on the refused/ignored event the deploy tests send (deploy/smoke_events.py) as an extra row.

Rounds interleave hello world with every function, so each ratio compares figures taken under the
same load (the machine is shared); the figure is the median of ROUNDS. Jobs created by the submit-run
rounds wait for capacity (the local DWS has none of their GPU) until those rounds are over, so no
trainer runs while a cold start is measured; they then run to the end and feed job-state's rounds.
Peak RSS is the serving process's high-water mark (VmHWM) after the real event, and, as the ceiling,
after the handler's process has imported every SDK the bundle can import lazily.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections import defaultdict
from pathlib import Path

import httpx
from cloudevents.conversion import to_binary

from bench import cold_phases
from bench.measurement import Measurement, child_peak_rss_mib
from bench.real_events import RealEvents, started
from deploy.bundle import build_bundles, third_party_imports
from deploy.smoke_events import EVENTS
from shared.jobs.catalog import canonical_gpu
from shared.polling import poll

ROUNDS = 5
FUNCTIONS = ("validate-package", "submit-run", "job-state")
FRAMEWORK = Path(sys.executable).with_name("functions-framework")
HELLO = """import functions_framework


@functions_framework.cloud_event
def hello(event):
    return None
"""
Sample = tuple[float, float]  # (seconds to the first 200, peak RSS MiB)


def run() -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="flexrun-cold-start-") as scratch, contextlib.ExitStack() as stack:
        root = Path(scratch)
        hello = root / "hello"
        hello.mkdir()
        (hello / "main.py").write_text(HELLO)
        (hello / "requirements.txt").write_text("functions-framework\n")
        cloud = started(root)
        stack.callback(cloud.stop)
        events = RealEvents(cloud, root)
        bundles = {b.function.name: b for b in build_bundles(root / "bundles") if b.function.name in FUNCTIONS}
        for source in (hello, *(b.path for b in bundles.values())):
            _compile_as_deployed(source)
        base = _environment(root)
        envs = {name: {**base, **events.env[name]} for name in FUNCTIONS}
        breakdown: dict[str, str] = {}
        samples = _measure(events, bundles, envs, base, hello, breakdown)
        return _rows(samples, bundles, envs, hello, breakdown)


def _measure(
    events: RealEvents, bundles: dict, envs: dict, base: dict, hello: Path, breakdown: dict[str, str]
) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = defaultdict(list)
    any_event = next(iter(EVENTS.values()))[0]
    gpu = canonical_gpu(envs["submit-run"].get("VERTEX_AI_GPU_TYPE") or "NVIDIA_L4")
    _capacity(events, {gpu: 0})
    jobs: list[tuple[str, str]] = []
    for round_ in range(ROUNDS):
        samples["hello"].append(_cold_start(hello, "hello", any_event, base))
        for name in FUNCTIONS:
            bundle = bundles[name]
            refused = EVENTS[name][0]
            samples[f"{name} refused"].append(_cold_start(bundle.path, bundle.function.target, refused, envs[name]))
        version = f"0.8.{round_}"
        event = events.package_uploaded(version)
        samples["validate-package"].append(_serve(bundles["validate-package"], event, envs))
        events.check_validated(version)
        run_key = f"bench-cold-{round_}"
        event = events.run_requested(run_key, version)
        samples["submit-run"].append(_serve(bundles["submit-run"], event, envs))
        jobs.append((run_key, events.check_created(run_key)))
    # One more real event each, handled in phases (bench/cold_phases.py): where the time goes.
    version, run_key = f"0.8.{ROUNDS}", "bench-cold-phases"
    breakdown["validate-package"] = _phases(bundles["validate-package"], events.package_uploaded(version), envs)
    events.check_validated(version)
    breakdown["submit-run"] = _phases(bundles["submit-run"], events.run_requested(run_key, version), envs)
    jobs.append((run_key, events.check_created(run_key)))
    _capacity(events, {gpu: ROUNDS + 1})
    ended = [events.job_ended(job_id) for _, job_id in jobs]  # every job to the end first: no trainer runs below
    for (run_key, _), event in zip(jobs[:-1], ended[:-1], strict=True):
        samples["hello (job-state rounds)"].append(_cold_start(hello, "hello", any_event, base))
        samples["job-state"].append(_serve(bundles["job-state"], event, envs))
        events.check_finished(run_key)
    breakdown["job-state"] = _phases(bundles["job-state"], ended[-1], envs)
    events.check_finished(jobs[-1][0])
    return samples


def _phases(bundle, event, envs: dict) -> str:  # noqa: ANN001 — a Bundle, a CloudEvent
    return cold_phases.phases(bundle.path, bundle.function.target, event, envs[bundle.function.name])


def _serve(bundle, event, envs: dict) -> Sample:  # noqa: ANN001 — a Bundle, a CloudEvent
    return _cold_start(bundle.path, bundle.function.target, event, envs[bundle.function.name])


def _capacity(events: RealEvents, slots: dict[str, int]) -> None:
    request = urllib.request.Request(
        events.cloud.endpoints["vertex"] + "/_admin/capacity", data=json.dumps(slots).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request, timeout=10).close()


def _median(values: list[Sample], index: int = 0) -> float:
    return statistics.median(v[index] for v in values)


def _rows(
    samples: dict[str, list[Sample]], bundles: dict, envs: dict, hello: Path, breakdown: dict[str, str]
) -> list[Measurement]:
    hello_s = _median(samples["hello"] + samples["hello (job-state rounds)"])
    hello_rss = max(s[1] for s in samples["hello"])
    hello_kib = _size_kib(hello)
    rows: list[Measurement] = []
    for name in FUNCTIONS:
        # job-state's rounds ran later, under other load: each against the hello runs of its own rounds.
        baseline = _median(samples["hello (job-state rounds)"] if name == "job-state" else samples["hello"])
        real, refused = samples[name], samples[f"{name} refused"]
        spread = ", ".join(f"{s[0]:.2f}" for s in real)
        rows += [
            Measurement(
                f"cold start {name}, real event",
                _median(real),
                "hello-world",
                baseline,
                "s",
                "<= 2.0",
                note=f"median of {len(real)} ({spread} s); {REAL[name]}; {breakdown[name]}",
            ),  # fmt: skip
            Measurement(
                f"cold start {name}, refused event",
                _median(refused),
                "hello-world",
                hello_s,
                "s",
                "<= 2.0",
                note=EVENTS[name][1],
            ),  # fmt: skip
            Measurement(
                f"peak RSS {name} (real event)",
                max(s[1] for s in real),
                "hello-world",
                hello_rss,
                "MiB",
                note="goal: <= 200 MiB absolute",
            ),  # fmt: skip
            Measurement(
                f"peak RSS {name} (all SDKs imported)",
                _all_sdks_rss(bundles[name].path, envs[name]),
                "200 MiB limit",
                200.0,
                "MiB",
                "<= 1.0",
            ),  # fmt: skip
            Measurement(
                f"bundle size {name}",
                _size_kib(bundles[name].path),
                "hello-world",
                hello_kib,
                "KiB",
                note=f"{len(bundles[name].requirements)} requirements, no TensorFlow",
            ),  # fmt: skip
        ]
    return rows


REAL = {
    "validate-package": "new package uploaded → validated, promoted, manifest written",
    "submit-run": "valid run message → manifest read, run claimed, job created on the local Vertex",
    "job-state": "job's final log line → job read, outputs read, record finished, Slack sent",
}


def _environment(root: Path) -> dict[str, str]:
    adc = root / "adc.json"
    adc.write_text(
        json.dumps({"type": "authorized_user", "client_id": "x", "client_secret": "y", "refresh_token": "z"})
    )
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "GCP_PROJECT_ID": "bench-project",
        "GCP_BUCKET_NAME": "test-packages-bucket",
        "GOOGLE_APPLICATION_CREDENTIALS": str(adc),
    }


def _compile_as_deployed(source: Path) -> None:
    """Byte-compile the source as Google's Python functions buildpack does at deploy time.

    Its build log reads `Running "python3 -m compileall -f -q ."` (GoogleCloudPlatform/buildpacks
    issues #140 and #302): an instance imports the function's code from .pyc, so no round compiles it.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-f", "-q", "."], cwd=source, check=True, timeout=120)


def _cold_start(source: Path, target: str, event, env: dict[str, str]) -> tuple[float, float]:
    """(seconds from process start to the first 200, the server's peak RSS in MiB)."""
    port = _free_port()
    headers, body = to_binary(event)
    command = [
        str(FRAMEWORK),
        "--source",
        "main.py",
        "--target",
        target,
        "--signature-type",
        "cloudevent",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    started = time.perf_counter()
    server = subprocess.Popen(command, cwd=source, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:

        def answered() -> httpx.Response | None:
            try:
                return httpx.post(f"http://127.0.0.1:{port}/", headers=headers, content=body, timeout=30)
            except httpx.TransportError:
                if server.poll() is not None:
                    raise RuntimeError(f"{target}: functions-framework exited with {server.returncode}") from None
                return None

        response = poll(answered, timeout=300, what=f"{target} to answer", interval=0.01)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{target}: answered {response.status_code}")
        return elapsed, _tree_peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _all_sdks_rss(bundle: Path, env: dict[str, str]) -> float:
    modules = sorted(third_party_imports(bundle))
    script = f"import importlib, main\nfor name in {modules!r}: importlib.import_module(name)\n"
    _, rss = child_peak_rss_mib([sys.executable, "-c", script], cwd=bundle, env=env)
    return rss


def _tree_peak_rss_mib(pid: int) -> float:
    """The largest VmHWM in the process tree: gunicorn's worker, not its arbiter, runs the handler."""
    peak = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) / 1024.0)
        pending.extend(int(child) for child in children)
    return peak


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _size_kib(path: Path) -> float:
    """The zipped source as deployed: the .pyc files the buildpack writes are not uploaded."""
    archive = Path(str(path) + "-size.zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for file in sorted(path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                zipped.write(file, file.relative_to(path))
    size = archive.stat().st_size / 1024.0
    archive.unlink()
    return size
