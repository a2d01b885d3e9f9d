"""Misconfiguration is ours, never the sender's: a malformed secret or a bad job default fails the
function naming the variable (never quoting a secret), every event is redelivered until the setting is
fixed, and then the runs go through. test_secrets.py, which runs after this file, also looks for the
malformed values below everywhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.demo import chain
from shared.polling import poll
from tests.chaos import kit
from tests.chaos.kit import Chaos

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

# Recognisable fake values: what a person pastes without its scheme.
MALFORMED = {
    "malformed-slack": "hooks.slack.example/services/T0BAD/B0BAD/xoxMALFORMEDslack9d2e",
    "malformed-mongo": "admin:mongoMALFORMEDpw7c1a@127.0.0.1:1/flexrun",
}


def _misconfigured(chaos: Chaos, function: str, variable: str, since: int) -> list[dict[str, Any]]:
    lines = kit.log_lines(chaos.cloud, function)[since:]
    return [line for line in lines if "misconfigured" in line.get("message", "") and variable in line.get("error", "")]


def _rejections(chaos: Chaos, run_key: str) -> list[dict[str, Any]]:
    rejected = chain.runs_collection(chaos.cloud).database["rejected_events"]
    return list(rejected.find({"error": {"$regex": run_key}}, {"_id": 0}))


def _with_settings(chaos: Chaos, function: str, env: dict[str, str | None]) -> dict[str, str | None]:
    """Redeploy `function` with `env`; the settings it had, to put back."""
    before = dict(chaos.cloud.process(function).env or {})
    chaos.cloud.restart_service(function, env=env)
    return {name: before.get(name) for name in env}


@pytest.mark.parametrize(
    ("function", "variable", "secret"),
    [("job-state", "SLACK_WEBHOOK_URL", "malformed-slack"), ("submit-run", "MONGODB_URL", "malformed-mongo")],
)
def test_a_malformed_secret_fails_the_function_by_name_and_the_run_goes_on_once_fixed(
    chaos: Chaos, deployed: dict, function: str, variable: str, secret: str
):
    chaos.secrets[secret] = MALFORMED[secret]  # test_secrets.py searches every log and record for it
    run_key = f"malformed-{variable.lower().replace('_', '-')}"
    since = len(kit.log_lines(chaos.cloud, function))
    fixed = _with_settings(chaos, function, {variable: MALFORMED[secret]})
    try:
        chain.publish_run(chaos.cloud, kit.run_request(run_key))
        poll(
            lambda: _misconfigured(chaos, function, variable, since), timeout=120, what=f"{function} to name {variable}"
        )
        assert _rejections(chaos, run_key) == []  # refused as a bad message: never
    finally:
        _with_settings(chaos, function, fixed)
    record = chain.wait_for_run(chaos.cloud, run_key, timeout=300).model_dump()
    assert record["state"] == "succeeded" and kit.slack_for(chaos.cloud, run_key)
    logged = chaos.cloud.log_path(function).read_text()
    assert MALFORMED[secret] not in logged and MALFORMED[secret].split("/")[-1] not in logged


@pytest.mark.parametrize(
    ("variable", "bad"),
    [("VERTEX_AI_GPU_TYPE", "NVIDIA_FOO"), ("VERTEX_AI_MACHINE_TYPE", "a2-highgpu-1g")],  # a2 cannot carry an L4
)
def test_a_bad_default_never_drops_a_message_that_relies_on_it(chaos: Chaos, deployed: dict, variable: str, bad: str):
    run_key = f"bad-default-{variable.lower().replace('_', '-')}"
    since = len(kit.log_lines(chaos.cloud, "submit-run"))
    fixed = _with_settings(chaos, "submit-run", {variable: bad})
    try:
        chain.publish_run(chaos.cloud, kit.run_request(run_key))  # no GPU of its own: it uses the default
        poll(lambda: _misconfigured(chaos, "submit-run", variable, since), timeout=120, what=f"{variable} named")
        assert _rejections(chaos, run_key) == [] and kit.records_for(chaos.cloud, run_key) == []
    finally:
        _with_settings(chaos, "submit-run", fixed)
    record = chain.wait_for_run(chaos.cloud, run_key, timeout=300).model_dump()
    assert record["state"] == "succeeded" and record["gpu_type"] == "NVIDIA_L4"
