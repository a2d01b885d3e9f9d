"""Where the CLI points: the local cloud (its `.local-cloud/env` file) or production (the environment).

The local cloud's env file, when it exists, overrides the environment: mixing a production project with
a local storage emulator would send half the calls to the wrong place. `--env-file ''` ignores it.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from shared.config.settings import Settings, load_settings
from shared.errors import ConfigurationError
from shared.packages.manifest import ManifestStore

DEFAULT_ENV_FILE = ".local-cloud/env"


def read_env_file(path: Path) -> dict[str, str]:
    """`export KEY=VALUE` lines, as `python -m local up` writes them."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["export"]:
            words = words[1:]
        for word in words:
            key, sep, value = word.partition("=")
            if sep:
                values[key] = value
    return values


@dataclass(frozen=True)
class Target:
    settings: Settings
    description: str

    @property
    def bucket(self) -> Any:
        from shared.cloud import clients

        return clients.storage_client(self.settings.gcp_project_id).bucket(self.settings.gcp_bucket_name)

    @property
    def upload_bucket(self) -> Any:
        """google-cloud-storage's bucket, for `package upload`: a resumable upload in chunks with a progress
        bar, which the functions' small client (shared/cloud/gcs.py) does not do. No function bundle has
        the CLI, so the SDK's import time costs nothing there."""
        from google.cloud import storage

        project = self.settings.gcp_project_id
        if os.environ.get("STORAGE_EMULATOR_HOST"):  # the local stand-in: the SDK reads it, without credentials
            from google.auth.credentials import AnonymousCredentials

            client = storage.Client(project=project, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
        else:
            client = storage.Client(project=project)
        return client.bucket(self.settings.gcp_bucket_name)

    @property
    def manifest(self) -> ManifestStore:
        return ManifestStore(self.bucket, self.settings.flexrun_manifest_object)


def load_target(env_file: str | None) -> Target:
    description = "production (environment)"
    if env_file and Path(env_file).is_file():
        os.environ.update(read_env_file(Path(env_file)))
        description = f"local cloud ({env_file})"
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        raise click.ClickException(f"{exc} (start the local cloud with `make up`, or set the variables)") from None
    return Target(settings, description)
