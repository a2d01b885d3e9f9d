"""The chaos suite's local cloud: its own (it stops and starts services), with fake secrets everywhere.

The functions reach Cloud Storage, Slack and the Supabase endpoint through fault proxies on loopback
(local/standins/faultproxy.py), so a test can cut or stall a link; MongoDB and the Pub/Sub emulator are
stopped and started for real. Every secret setting holds a recognisable fake value that
test_secrets.py looks for everywhere at the end.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from local.demo import chain
from local.services.cloud import REPO_ROOT, LocalCloud
from local.services.triggers import Timings
from local.standins.faultproxy import FaultProxy
from local.standins.postgrest import start_postgrest
from tests.chaos import kit
from tests.chaos.kit import Chaos

SECRETS = {
    "slack": "xoxSLACKSECRETc4a05f1e",
    "supabase": "sbSUPABASESECRETe7d19b22",
}


@pytest.fixture(scope="package")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    proxies = {name: FaultProxy().start() for name in ("gcs", "slack", "postgrest")}
    function_env = {
        "STORAGE_EMULATOR_HOST": proxies["gcs"].url,
        "SLACK_WEBHOOK_URL": f"{proxies['slack'].url}/services/T0CHAOS/B0CHAOS/{SECRETS['slack']}",
        "SUPABASE_URL": proxies["postgrest"].url,
        "SUPABASE_KEY": SECRETS["supabase"],
        # The trainer's secrets travel as Secret Manager names, never as values (README "Secrets").
        "FLEXRUN_TRAINER_SECRETS": "MONGODB_URL=chaos-mongodb-url,API_TOKEN=chaos-api-token:3",
    }
    # No reconciler tick during these tests (tests/integration/test_reconciler.py covers the tick): they
    # lose events on purpose and deliver them by hand (test_ordering), and they hold or cut the storage
    # link mid-event, which a tick writing the quota snapshot every few seconds would meet instead of the
    # function under test (production ticks every 10 minutes).
    quiet = Timings(reconcile_after=3600, reconcile_every=3600)
    cloud = LocalCloud(tmp_path_factory.mktemp("chaos-cloud"), function_env=function_env, timings=quiet)
    cloud.start()
    secret_postgrest = None
    try:
        proxies["gcs"].upstream = _host_port(cloud.endpoints["gcs"])
        proxies["slack"].upstream = _host_port(cloud.endpoints["slack"])
        if "postgres" in cloud.endpoints:
            own = cloud.state_dir / "secret-postgrest"
            own.mkdir()
            secret_postgrest, url = start_postgrest(
                own, sys.executable, REPO_ROOT, cloud.endpoints["postgres"], SECRETS["supabase"]
            )
            proxies["postgrest"].upstream = _host_port(url)
        # Room for the runs several tests start side by side (DWS capacity is simulated per GPU type).
        kit.admin(f"{cloud.env['VERTEX_AI_API_ENDPOINT']}/_admin/capacity", {"NVIDIA_L4": 8})
        yield Chaos(cloud, proxies, SECRETS)
    finally:
        if secret_postgrest is not None:
            secret_postgrest.stop()
        cloud.stop()
        for proxy in proxies.values():
            proxy.close()


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    return host, int(port)


@pytest.fixture(scope="package")
def deployed(chaos: Chaos, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tiny trainer package, validated: what every run of the suite deploys."""
    upload = kit.upload(chaos.cloud, kit.PACKAGE_VERSION, tmp_path_factory.mktemp("packages"))
    entry = chain.wait_for_manifest_entry(chaos.cloud, upload, timeout=120)
    assert entry["status"] == "validated", entry.get("reasons")
    return entry


@pytest.fixture
def tap(chaos: Chaos) -> Iterator[kit.Tap]:
    tap = kit.Tap(chaos.cloud)
    yield tap
    tap.close()
