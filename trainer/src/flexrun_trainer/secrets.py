"""Secrets a job names but never carries: `X_SECRET=projects/P/secrets/S/versions/V` becomes `X`.

A Vertex AI CustomJob's env holds literal values only, so the submit function puts the *resource name*
of each Secret Manager version in `X_SECRET`; the trainer reads the value itself, with its own service
account, at start. Values are never logged. An `X` already set wins (a laptop run with a plain env).
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping

from flexrun_trainer.errors import ConfigError

SUFFIX = "_SECRET"
_VERSION_NAME = re.compile(r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$")

Access = Callable[[str], str]


def wanted_secrets(env: MutableMapping[str, str]) -> dict[str, str]:
    """{X: secret version name} for every `X_SECRET` whose `X` is not set yet."""
    wanted = {}
    for key, value in env.items():
        name = key[: -len(SUFFIX)]
        if key.endswith(SUFFIX) and name and not env.get(name):
            if not _VERSION_NAME.match(value):
                raise ConfigError(f"{key} must name a secret version (projects/P/secrets/S/versions/V)")
            wanted[name] = value
    return wanted


def resolve_secret_env(env: MutableMapping[str, str], access: Access | None = None) -> list[str]:
    """Fill `env` from Secret Manager; returns the names filled (for the log: names only)."""
    wanted = wanted_secrets(env)
    if not wanted:
        return []
    access = access or secret_manager_access(env.get("FLEXRUN_SECRET_MANAGER_ENDPOINT", ""))
    for name, version in sorted(wanted.items()):
        env[name] = access(version)
    return sorted(wanted)


def secret_manager_access(endpoint: str = "") -> Access:
    """Reads secret versions with google-cloud-secret-manager (imported only when a job names a secret).

    `endpoint` = `http://HOST:PORT` selects a local stand-in with anonymous credentials (tests).
    """
    from google.api_core import exceptions as gexc
    from google.cloud import secretmanager

    if endpoint.startswith("http://"):
        from google.auth.credentials import AnonymousCredentials

        client = secretmanager.SecretManagerServiceClient(
            credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": endpoint}
        )
    else:
        client = secretmanager.SecretManagerServiceClient()

    def access(version: str) -> str:
        try:
            return client.access_secret_version(name=version).payload.data.decode("utf-8")
        except (gexc.NotFound, gexc.PermissionDenied) as exc:
            raise ConfigError(f"cannot read secret {version}: {exc.__class__.__name__}") from None

    return access
