"""Finding the emulators: a missing Pub/Sub emulator fails with how to install it."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.services.gcs import server_binary
from local.services.pubsub import INSTALL_HINT, emulator_binary


def test_missing_gcloud_says_how_to_install_the_pubsub_emulator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: no gcloud

    with pytest.raises(RuntimeError, match=INSTALL_HINT):
        emulator_binary()


def test_cloud_sdk_without_the_component_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sdk_root = tmp_path / "google-cloud-sdk"
    (sdk_root / "platform").mkdir(parents=True)
    gcloud = tmp_path / "bin" / "gcloud"
    gcloud.parent.mkdir()
    gcloud.write_text(f"#!/bin/sh\necho {sdk_root}\n")  # answers `gcloud info --format=...` only
    gcloud.chmod(0o755)
    monkeypatch.setenv("PATH", f"{gcloud.parent}:/usr/bin:/bin")

    with pytest.raises(RuntimeError, match=f"is missing.*{INSTALL_HINT}"):
        emulator_binary()


def test_fake_gcs_server_binary_is_found_in_the_wrapper_wheel() -> None:
    assert server_binary().is_file()
