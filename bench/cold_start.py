"""Cold start, peak memory and size of each deployable function bundle, against a hello-world function.

Cold start = `functions-framework` process start → first CloudEvent answered (200), the same event the
deploy tests send, on the same framework and interpreter as a hello-world cloud_event function.
Peak RSS is the serving process's high-water mark (VmHWM) after that event, and, as the ceiling,
after the handler's process has imported every SDK the bundle can import lazily.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cloudevents.conversion import to_binary

from bench.measurement import Measurement, best_of, child_peak_rss_mib
from deploy.bundle import build_bundles, third_party_imports
from deploy.smoke_events import EVENTS
from local.services.mongo import start_mongo
from shared.polling import poll

REPEAT = 3
FRAMEWORK = Path(sys.executable).with_name("functions-framework")
HELLO = """import functions_framework


@functions_framework.cloud_event
def hello(event):
    return None
"""


def run() -> list[Measurement]:
    rows: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="flexrun-cold-start-") as scratch, contextlib.ExitStack() as stack:
        root = Path(scratch)
        hello = root / "hello"
        hello.mkdir()
        (hello / "main.py").write_text(HELLO)
        (hello / "requirements.txt").write_text("functions-framework\n")
        # A live MongoDB-protocol server: submit-run records the rejected smoke event, and against an
        # unreachable URL that would measure pymongo's 5 s server-selection wait, not a cold start.
        mongo, mongo_url = start_mongo(root, in_memory=True)
        stack.callback(mongo.stop)
        env = _environment(root, mongo_url)
        any_event = next(iter(EVENTS.values()))[0]
        hello_seconds = best_of(REPEAT, lambda: _cold_start(hello, "hello", any_event, env)[0])
        hello_rss = _cold_start(hello, "hello", any_event, env)[1]
        hello_kib = _size_kib(hello)
        for bundle in build_bundles(root / "bundles"):
            name, target = bundle.function.name, bundle.function.target
            event = EVENTS[name][0]
            seconds = best_of(REPEAT, lambda b=bundle, t=target, e=event: _cold_start(b.path, t, e, env)[0])
            _, rss = _cold_start(bundle.path, target, event, env)
            sdk_rss = _all_sdks_rss(bundle.path, env)
            rows += [
                Measurement(f"cold start {name}", seconds, "hello-world", hello_seconds, "s", "<= 2.0"),
                Measurement(
                    f"peak RSS {name} (first event)",
                    rss,
                    "hello-world",
                    hello_rss,
                    "MiB",
                    note=f"goal: <= 200 MiB absolute; {rss:.0f} MiB",
                ),
                Measurement(f"peak RSS {name} (all SDKs imported)", sdk_rss, "200 MiB limit", 200.0, "MiB", "<= 1.0"),
                Measurement(
                    f"bundle size {name}",
                    _size_kib(bundle.path),
                    "hello-world",
                    hello_kib,
                    "KiB",
                    note=f"{len(bundle.requirements)} requirements, no TensorFlow",
                ),
            ]
    return rows


def _environment(root: Path, mongo_url: str) -> dict[str, str]:
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
        "MONGODB_URL": mongo_url,
    }


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
    archive = shutil.make_archive(str(path) + "-size", "zip", path)
    size = Path(archive).stat().st_size / 1024.0
    Path(archive).unlink()
    return size
