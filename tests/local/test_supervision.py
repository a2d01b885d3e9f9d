"""The local cloud heals, as Google's services do: after `python -m local up` returns, a dead process is
served again on its port with its environment, `restart NAME` does it on request, and `down` keeps the
data (undelivered messages, the local Supabase) for the next `up` unless `down --wipe`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy import spec as deploy_spec
from deploy import topology
from local.services import postgres
from local.services.cloud import REPO_ROOT
from shared.polling import poll

pytestmark = pytest.mark.integration
RECORDER = "tests/local/fixtures/recorder.py"


def _local(state_dir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "local", "--state-dir", str(state_dir), *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def _up(state_dir: Path, *args: str) -> None:
    started = _local(state_dir, "up", *args)
    assert started.returncode == 0, started.stderr[-3000:]


def _entry(state_dir: Path, name: str) -> dict[str, Any]:
    state = json.loads((state_dir / "cloud.json").read_text())
    return next(entry for entry in state["processes"] if entry["name"] == name)


def _environ(pid: int) -> set[bytes]:
    return set(Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))


def _serving(url: str) -> bool:
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return True
    except OSError:
        return False


def _replaced(state_dir: Path, name: str, old_pid: int) -> dict[str, Any] | None:
    try:
        entry = _entry(state_dir, name)
    except (OSError, ValueError, StopIteration):  # the state file is being rewritten
        return None
    return entry if entry["pid"] != old_pid and Path(f"/proc/{entry['pid']}").exists() else None


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    state_dir = tmp_path_factory.mktemp("supervised")
    sources = [f"--function-source={function.name}={RECORDER}" for function in deploy_spec.FUNCTIONS]
    started = _local(state_dir, "up", "--services", "slack", "functions", *sources)
    assert started.returncode == 0, started.stderr
    try:
        yield state_dir
    finally:
        assert _local(state_dir, "down").returncode == 0


def test_a_killed_function_is_served_again_on_its_port_with_its_environment(supervised: Path):
    before = _entry(supervised, "function-submit-run")
    url = json.loads((supervised / "cloud.json").read_text())["endpoints"]["function:submit-run"]
    environment = _environ(before["pid"])
    os.killpg(before["pid"], signal.SIGKILL)
    after = poll(lambda: _replaced(supervised, "function-submit-run", before["pid"]), timeout=120, what="a restart")
    poll(lambda: _serving(url), timeout=60, what="the same port to answer")
    assert _environ(after["pid"]) == environment
    log = [json.loads(line) for line in (supervised / "logs" / "local-cloud.log").read_text().splitlines()]
    assert any(line.get("service") == "function-submit-run" and "restarting" in line["message"] for line in log)


def test_restart_name_serves_one_service_again_on_its_port(supervised: Path):
    before = _entry(supervised, "slack")
    restarted = _local(supervised, "restart", "slack")
    assert restarted.returncode == 0 and restarted.stdout.startswith("ok"), restarted.stderr
    after = _entry(supervised, "slack")
    assert after["pid"] != before["pid"] and Path(f"/proc/{after['pid']}").exists()
    assert _local(supervised, "restart", "no-such-service").returncode == 1


@pytest.mark.skipif(not postgres.available(), reason="no PostgreSQL server on this machine")
def test_down_keeps_undelivered_messages_objects_and_supabase_data_unless_wiped(tmp_path: Path):
    import psycopg

    from local.services.clients import publisher_client, storage_client, subscriber_client

    services = ("--services", "pubsub", "gcs", "postgres", "postgrest")
    (submit_run,) = [f for f in deploy_spec.FUNCTIONS if f.name == "submit-run"]

    def endpoints() -> dict[str, str]:
        return json.loads((tmp_path / "cloud.json").read_text())["endpoints"]

    def waiting() -> list[bytes]:
        subscriber = subscriber_client(endpoints()["pubsub"])
        try:
            path = subscriber.subscription_path(topology.PROJECT_ID, submit_run.subscription)
            pulled = subscriber.pull(subscription=path, max_messages=10, timeout=10)
            return [received.message.data for received in pulled.received_messages]
        finally:
            subscriber.close()

    def objects() -> list[str]:
        bucket = storage_client(endpoints()["gcs"]).bucket(topology.PACKAGE_BUCKET)
        return [blob.name for blob in bucket.list_blobs()]

    def rows() -> list[str]:
        with psycopg.connect(endpoints()["postgres"], autocommit=True) as conn:
            conn.execute("create table if not exists kept (note text)")
            return [row[0] for row in conn.execute("select note from kept")]

    _up(tmp_path, *services)
    publisher = publisher_client(endpoints()["pubsub"])
    publisher.publish(publisher.topic_path(topology.PROJECT_ID, topology.RUN_REQUESTS_TOPIC), b"undelivered").result()
    rows()
    storage_client(endpoints()["gcs"]).bucket(topology.PACKAGE_BUCKET).blob("kept.txt").upload_from_string(b"x")
    with psycopg.connect(endpoints()["postgres"], autocommit=True) as conn:
        conn.execute("insert into kept values ('a supabase row')")
    assert _local(tmp_path, "down").returncode == 0, (tmp_path / "logs" / "local-cloud.log").read_text()[-3000:]

    _up(tmp_path, *services)
    assert poll(waiting, timeout=30, what="the kept message") == [b"undelivered"]
    assert (rows(), objects()) == (["a supabase row"], ["kept.txt"])
    wiped = _local(tmp_path, "down", "--wipe")
    assert wiped.returncode == 0 and "wiped" in wiped.stdout

    _up(tmp_path, *services)
    try:
        assert (waiting(), rows(), objects()) == ([], [], [])
    finally:
        assert _local(tmp_path, "down", "--wipe").returncode == 0
