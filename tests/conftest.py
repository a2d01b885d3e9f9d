"""Shared fixtures: the full local cloud, started once per test session.

Tests that need it are marked `@pytest.mark.integration` (`make unit` deselects them).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) must import `local` too
    sys.path.insert(0, str(REPO_ROOT))

from local.services.cloud import LocalCloud  # noqa: E402


def _interrupt_on_sigterm(signum: int, frame: object) -> None:
    # A CI or `timeout` SIGTERM must still run fixture teardown, which stops every local process.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    config.addinivalue_line("markers", "integration: needs the local cloud (processes on loopback ports)")


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    # The CLI loads a target's env file into os.environ (the Google clients read it from there); run in
    # process by a test, that must not leak a store or emulator variable into the next test's settings.
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """The whole local cloud with the real functions, in a temporary state directory.

    Every process is stopped by its own PID at the end of the session, even if a test failed.
    """
    cloud = LocalCloud(tmp_path_factory.mktemp("local-cloud"))
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()
