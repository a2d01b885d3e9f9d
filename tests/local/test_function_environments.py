"""Each local function process sees exactly its deploy spec's variables (with local values), its own
secrets and the local endpoints: a setting another function is given never leaks into it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from deploy import topology
from deploy.spec import FUNCTIONS, LOCAL_ENDPOINTS, FunctionSpec, Trigger
from local.services.cloud import LocalCloud
from local.services.triggers import RECONCILE_AFTER
from shared.config.settings import Settings

pytestmark = pytest.mark.integration
Received = Callable[[str, str, str], list[dict[str, Any]]]
WaitFor = Callable[..., Any]
SETTINGS = {name.upper() for name in Settings.model_fields}


def _deliver(cloud: LocalCloud, spec: FunctionSpec, marker: str) -> None:
    if spec.trigger is Trigger.BUCKET:
        cloud.storage_client().bucket(topology.PACKAGE_BUCKET).blob(marker).upload_from_string(b"x")
        return
    publisher = cloud.publisher()
    topic = publisher.topic_path(topology.PROJECT_ID, spec.topic)
    publisher.publish(topic, b"{}", marker=marker).result(timeout=30)


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_each_function_process_sees_only_its_own_settings_and_the_local_endpoints(
    recording_cloud: LocalCloud, received: Received, wait_for: WaitFor, spec: FunctionSpec
) -> None:
    marker = f"env-{uuid.uuid4().hex}"
    _deliver(recording_cloud, spec, marker)
    key = "name" if spec.trigger is Trigger.BUCKET else "marker"
    [event] = wait_for(lambda: received(spec.target, key, marker), timeout=30, what=f"{spec.name}'s event")

    seen = set(event["environment"])
    running_secrets = {s.env for s in spec.secrets if s.env in recording_cloud.env}
    local_only = set(LOCAL_ENDPOINTS) | {RECONCILE_AFTER}
    assert (seen & SETTINGS) - local_only == set(spec.env) | running_secrets  # no Supabase here
    running_endpoints = {name for name in LOCAL_ENDPOINTS if name in recording_cloud.env}
    assert running_endpoints >= {"STORAGE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"} and running_endpoints <= seen
    assert "RECORDER_DIR" in seen  # the test's own knob reaches every function


def test_the_state_file_names_each_functions_variables_without_their_values(recording_cloud: LocalCloud) -> None:
    state = json.loads((recording_cloud.state_dir / "cloud.json").read_text())
    assert state["function_variables"]["validate-package"] == sorted(recording_cloud.function_envs["validate-package"])
    assert "VERTEX_AI_SERVICE_ACCOUNT" not in state["function_variables"]["validate-package"]
    assert "VERTEX_AI_SERVICE_ACCOUNT" in state["function_variables"]["submit-run"]
