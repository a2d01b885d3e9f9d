"""The run stores of the local cloud, built as the functions build them (through shared.cloud.wiring)."""

from __future__ import annotations

from typing import Any

import pytest

from local.services.cloud import LocalCloud
from shared.cloud import wiring
from shared.config.settings import Settings
from shared.stores.base import RunStore

STORE_KINDS = ("mongodb", "supabase", "both")


def settings_for(cloud: LocalCloud, kind: str = "both", **overrides: Any) -> Settings:
    """Settings a function of `cloud` would read, with only the stores of `kind` configured."""
    env = {key.lower(): value for key, value in cloud.env.items() if key.startswith(("GCP_", "VERTEX_"))}
    if kind in ("mongodb", "both"):
        env["mongodb_url"] = cloud.env["MONGODB_URL"]
    if kind in ("supabase", "both"):
        if "SUPABASE_URL" not in cloud.env:
            pytest.skip("no PostgreSQL server on this machine: the local Supabase is not running")
        env["supabase_url"], env["supabase_key"] = cloud.env["SUPABASE_URL"], cloud.env["SUPABASE_KEY"]
    # Only the stores of `kind`: a store variable left in this process's environment must not add another.
    env.setdefault("mongodb_url", None)
    env.setdefault("supabase_url", None)
    env.setdefault("supabase_key", None)  # the CLI tests load the local cloud's env file into os.environ
    env.update(overrides)
    return Settings(**env)


def store_for(cloud: LocalCloud, kind: str) -> RunStore:
    return wiring.run_store(settings_for(cloud, kind))
