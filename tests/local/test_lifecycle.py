"""Starting and stopping: every process ended by its PID, nothing left behind, fresh ports each time."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import topology
from deploy.spec import FUNCTIONS
from local.services.cloud import REPO_ROOT, LocalCloud
from local.services.processes import ManagedProcess, ProcessStartError

pytestmark = pytest.mark.integration
RECORDER = "tests/local/fixtures/recorder.py"


def _live_groups(pgids: set[int]) -> list[str]:
    """`ps` rows of processes (zombies aside) still in any of the given process groups."""
    rows = subprocess.run(["ps", "-eo", "pid=,pgid=,stat=,args="], capture_output=True, text=True).stdout
    return [
        row for row in rows.splitlines()
        if int(row.split()[1]) in pgids and not row.split()[2].startswith("Z")
    ]  # fmt: skip


def _local(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "local", "--state-dir", str(state_dir), *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def test_up_then_down_leaves_no_process_behind(tmp_path: Path) -> None:
    sources = [f"--function-source={spec.name}={RECORDER}" for spec in FUNCTIONS]
    services = ["pubsub", "gcs", "mongo", "slack", "functions", "eventarc"]
    started = _local(tmp_path, "up", "--services", *services, *sources)
    assert started.returncode == 0, started.stderr
    assert f"source {tmp_path / 'env'}" in started.stdout
    state = json.loads((tmp_path / "cloud.json").read_text())
    pids = {entry["pid"] for entry in state["processes"]}
    assert len(pids) == 4 + len(FUNCTIONS) + 1
    assert len(_live_groups(pids)) >= len(pids)  # `up` returned, its processes run on
    assert "export STORAGE_EMULATOR_HOST=http://127.0.0.1:" in (tmp_path / "env").read_text()
    assert _local(tmp_path, "status").returncode == 0

    stopped = _local(tmp_path, "down")

    assert stopped.returncode == 0, stopped.stderr
    assert _live_groups(pids) == []
    assert not (tmp_path / "cloud.json").exists()
    assert "nothing was running" in _local(tmp_path, "down").stdout  # safe to repeat


def test_starting_twice_in_a_row_works_and_each_stop_frees_its_ports(tmp_path: Path) -> None:
    endpoints = []
    for round_ in range(2):
        with LocalCloud(tmp_path, services=("pubsub", "gcs", "slack")) as cloud:
            blob = cloud.storage_client().bucket(topology.PACKAGE_BUCKET).blob(f"round-{round_}")
            blob.upload_from_string(b"x", if_generation_match=0)  # a fresh, empty store each time
            endpoints.append(cloud.endpoints["gcs"])
            pids = {p.pid for p in cloud.processes if p.pid is not None}
        assert _live_groups(pids) == []
        port = int(endpoints[-1].rsplit(":", 1)[1])
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_process_that_dies_at_start_is_named_with_its_log(tmp_path: Path) -> None:
    process = ManagedProcess("doomed", ["sh", "-c", "echo missing flag --frobnicate; exit 3"], tmp_path)

    with pytest.raises(ProcessStartError, match=r"(?s)doomed exited with status 3.*missing flag --frobnicate"):
        process.start(lambda: False, timeout=10)
    assert not process.pid_path.exists()
