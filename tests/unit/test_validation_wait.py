"""A run message naming a version whose upload may still be validating is retried, for
FLEXRUN_VALIDATION_WAIT after its own publish time, and only then refused naming the version."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from shared.config.settings import Settings, load_settings
from shared.errors import NoDeployableVersion, TransientError
from shared.events.cloudevents import PubsubMessage
from shared.packages.manifest import Manifest, ManifestEntry, Reason
from shared.runs.submit_run import handle_run_request
from tests.cloud_fakes import Vertex
from tests.memory_store import MemoryRunStore

SETTINGS = Settings(gcp_project_id="p", vertex_ai_gpu_type="NVIDIA_L4",
                    vertex_ai_machine_type="g2-standard-4")  # fmt: skip
VALIDATED = ManifestEntry(version="0.1.0", status="validated", generation=1, uri="gs://b/p-0.1.0.tar.gz",
                          object_name="packages/p-0.1.0.tar.gz", sha256="ab" * 32)  # fmt: skip


def deliver(manifest: Manifest, published_ago: timedelta, store: MemoryRunStore | None = None) -> object:
    body = json.dumps({"run_key": "waits", "package_version": "0.2.0"}).encode()
    message = PubsubMessage(body, {}, "m-1", datetime.now(timezone.utc) - published_ago)
    return handle_run_request(message, settings=SETTINGS, manifest=manifest, jobs_for_region=Vertex().for_region,
                              store=store or MemoryRunStore())  # fmt: skip


def test_a_version_with_no_validation_result_yet_is_retried_and_claims_nothing():
    store = MemoryRunStore()
    with pytest.raises(TransientError, match="version 0.2.0 has no validation result yet"):
        deliver(Manifest(entries=[VALIDATED]), timedelta(minutes=3), store)
    assert store.runs == {}


def test_once_the_wait_has_passed_since_its_publish_time_the_message_is_refused_naming_the_version():
    with pytest.raises(NoDeployableVersion, match=r"version 0\.2\.0 .*within 900 s of the message's publish time"):
        deliver(Manifest(entries=[VALIDATED]), timedelta(minutes=16))


def test_a_version_validation_rejected_is_refused_at_once_with_its_reasons():
    reasons = [Reason(code="entry_module_syntax", message="bad")]
    rejected = VALIDATED.model_copy(update={"version": "0.2.0", "status": "rejected", "reasons": reasons})
    with pytest.raises(NoDeployableVersion, match="0.2.0 was rejected by validation .entry_module_syntax: bad"):
        deliver(Manifest(entries=[VALIDATED, rejected]), timedelta(seconds=5))


def test_the_wait_is_a_duration_setting_of_fifteen_minutes_by_default(monkeypatch):
    monkeypatch.setenv("GCP_PROJECT_ID", "p")
    assert load_settings().flexrun_validation_wait == 900
    monkeypatch.setenv("FLEXRUN_VALIDATION_WAIT", "5m")
    assert load_settings().flexrun_validation_wait == 300
