"""The whole chain through the local cloud: upload → promote → run message → DWS job → record → Slack.

Nothing of flexrun is mocked: the functions run in functions-framework processes and receive
Eventarc-shaped CloudEvents; the trainer really trains on the local Vertex AI.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from deploy import topology
from deploy.spec import FUNCTIONS, LOCAL_ENDPOINTS
from local.demo import chain
from local.services.cloud import LocalCloud
from local.services.triggers import RECONCILE_AFTER
from shared.config.settings import Settings
from shared.packages.manifest import SCHEMA_VERSION as MANIFEST_SCHEMA_VERSION
from shared.polling import poll
from shared.runs import cost
from shared.runs.record import RunRecord
from tests.sdists import link, sdist

pytestmark = pytest.mark.integration

RUN_KEY = "it-chain-1"


@pytest.fixture(scope="module")
def promoted(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    package = chain.build_trainer_package(tmp_path_factory.mktemp("dist"))
    upload = chain.upload_package(local_cloud, package, uploader="pytest")
    return chain.wait_for_manifest_entry(local_cloud, upload)


@pytest.fixture(scope="module")
def finished_run(local_cloud: LocalCloud, promoted: dict[str, Any]) -> dict[str, Any]:
    chain.publish_run(local_cloud, {"run_key": RUN_KEY, "requested_by": "pytest", "max_wait": 300, "timeout": 900})
    return chain.wait_for_run(local_cloud, RUN_KEY, timeout=600).model_dump()


def test_uploaded_trainer_package_is_validated_and_promoted(promoted: dict[str, Any], local_cloud: LocalCloud):
    assert promoted["status"] == "validated", promoted["reasons"]
    assert promoted["uploader"] == "pytest" and len(promoted["sha256"]) == 64
    manifest = chain.read_manifest(local_cloud)
    assert manifest is not None and manifest["schema_version"] == MANIFEST_SCHEMA_VERSION


def test_run_record_holds_job_package_gpu_and_timings(finished_run: dict[str, Any], promoted: dict[str, Any]):
    assert finished_run["state"] == "succeeded", finished_run.get("error")
    assert finished_run["package_version"] == promoted["version"]
    assert finished_run["package_sha256"] == promoted["sha256"]
    assert (finished_run["gpu_type"], finished_run["machine_type"], finished_run["strategy"]) == (
        "NVIDIA_L4",
        "g2-standard-4",
        "FLEX_START",
    )
    states = [state.value for state, _ in RunRecord.model_validate(finished_run).history()]
    assert states[0] == "requested" and states[-1] == "succeeded"
    assert "running" in states
    assert finished_run["run_seconds"] > 0 and finished_run["wait_seconds"] >= 0
    # The cost is the catalog's: unknown (None) while the catalog has no verified DWS price for the machine.
    record = RunRecord.model_validate(finished_run)
    assert finished_run["estimated_cost_usd"] == cost.attempt_cost(record, record.run_seconds).estimated_cost_usd


def test_run_record_holds_the_trainers_metrics(finished_run: dict[str, Any]):
    assert finished_run["outputs_complete"]  # nx-27017 hands booleans back as 1
    metrics = finished_run["metrics"]
    assert "schema_version" in metrics
    assert set(finished_run["artifacts"]) >= {"metrics.json", "predictions.json"}


def test_exactly_one_slack_message_announces_the_success(finished_run: dict[str, Any], local_cloud: LocalCloud):
    messages = chain.slack_messages_for(local_cloud, RUN_KEY)
    assert len(messages) == 1
    assert "succeeded" in messages[0]["text"] and finished_run["package_version"] in messages[0]["text"]
    assert messages[0]["blocks"], "the message carries blocks with the numbers"


def test_republishing_a_run_key_creates_no_second_job(finished_run: dict[str, Any], local_cloud: LocalCloud):
    chain.publish_run(local_cloud, {"run_key": RUN_KEY, "requested_by": "pytest"})
    log = local_cloud.log_path("submit-run")

    def acknowledged_as_duplicate() -> bool | None:
        lines = [line for line in log.read_text().splitlines() if RUN_KEY in line and "duplicate" in line]
        return True if lines else None

    poll(acknowledged_as_duplicate, timeout=60, what="the duplicate to be acknowledged", interval=0.25)
    assert chain.runs_collection(local_cloud).count_documents({"run_key": RUN_KEY}) == 1
    assert len(chain.slack_messages_for(local_cloud, RUN_KEY)) == 1


def test_hostile_package_is_quarantined_and_reported(local_cloud: LocalCloud, tmp_path: Path):
    hostile = tmp_path / "evil-9.9.9.tar.gz"
    hostile.write_bytes(sdist("9.9.9", extra=[link("flexrun_trainer-9.9.9/steal", "/etc/shadow")]))
    upload = chain.upload_package(local_cloud, hostile)
    entry = chain.wait_for_manifest_entry(local_cloud, upload)
    assert entry["status"] == "rejected"
    assert [r["code"] for r in entry["reasons"]] == ["symlink_member"]
    bucket = local_cloud.storage_client().bucket(topology.PACKAGE_BUCKET)
    assert bucket.get_blob(entry["quarantine_uri"].split("/", 3)[3]) is not None
    poll(lambda: bucket.get_blob(upload.object_name) is None, timeout=30, what="the original to leave packages/")
    texts = [m["text"] for m in local_cloud.slack_messages()]
    assert any("evil-9.9.9.tar.gz" in t and "symlink_member" in t for t in texts)


def test_run_message_that_is_not_json_is_acknowledged_and_recorded(local_cloud: LocalCloud):
    publisher = local_cloud.publisher()
    topic = publisher.topic_path(topology.PROJECT_ID, topology.RUN_REQUESTS_TOPIC)
    publisher.publish(topic, b"{not json").result(timeout=30)
    rejected = chain.runs_collection(local_cloud).database["rejected_events"]
    found = poll(
        lambda: rejected.find_one({"function": "submit-run", "reason_code": "invalid_event"}),
        timeout=60,
        what="the poison message to be recorded",
        interval=0.25,
    )
    assert "not UTF-8 JSON" in found["error"]
    time.sleep(1)  # had it been nacked, the bridge would redeliver it within this second
    assert rejected.count_documents({"function": "submit-run", "reason_code": "invalid_event"}) == 1


def _process_environment(pid: int) -> set[str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return {item.split(b"=", 1)[0].decode() for item in raw.split(b"\0") if item}


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads a process's environment from /proc")
def test_each_function_process_runs_with_exactly_its_deploy_specs_settings(local_cloud: LocalCloud):
    settings = {name.upper() for name in Settings.model_fields}
    for spec in FUNCTIONS:
        process = local_cloud.process(spec.name)
        assert process.pid is not None
        seen = _process_environment(process.pid) & settings
        expected = set(spec.env) | {s.env for s in spec.secrets if s.env in local_cloud.env}
        expected |= {name for name in LOCAL_ENDPOINTS if name in local_cloud.env} & settings
        assert seen - set(local_cloud.function_env) - {RECONCILE_AFTER} == expected, spec.name


def test_the_job_runs_as_the_trainer_account_and_writes_under_a_base_without_trailing_slash(
    finished_run: dict[str, Any], local_cloud: LocalCloud
):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform_v1

    client = aiplatform_v1.JobServiceClient(
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        transport="rest",
        client_options={"api_endpoint": local_cloud.env["VERTEX_AI_API_ENDPOINT"]},
    )
    job = client.get_custom_job(name=finished_run["job_name"])
    trainer = local_cloud.function_envs["submit-run"]["VERTEX_AI_SERVICE_ACCOUNT"]
    assert job.job_spec.service_account == trainer
    base = job.job_spec.base_output_directory.output_uri_prefix
    assert base == finished_run["output_uri"] and not base.endswith("/")
