"""Secrets: the fake secrets this suite's functions hold (Slack webhook path, Supabase key, trainer
secret names → values) appear in no log line, record, Slack payload or job spec, after every other
chaos test has run against the same cloud (outages and poison included, whose error paths log most).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.demo import chain
from tests.chaos import kit
from tests.chaos.kit import Chaos

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

# What legitimately holds a secret: the Slack receiver records the webhook URL it was posted to (that
# URL is Slack's own address), and the PostgREST endpoint is configured with its service key.
OWNED_BY_THE_SERVICE = {"slack-received.jsonl", "slack.log"}


def test_no_secret_appears_in_logs_records_slack_payloads_or_job_specs(chaos: Chaos, deployed: dict):
    chain.publish_run(chaos.cloud, kit.run_request("secrets-run"))
    record = chain.wait_for_run(chaos.cloud, "secrets-run", timeout=120).model_dump()
    assert kit.slack_for(chaos.cloud, "secrets-run"), "the Slack secret was used"
    if "postgres" in chaos.cloud.endpoints:
        assert kit.supabase_rows(chaos, "runs", "secrets-run"), "the Supabase secret was used"
    (job,) = kit.jobs_for(chaos.cloud, "secrets-run")
    spec = type(job).to_json(job)
    assert "projects/local-project/secrets/chaos-api-token/versions/3" in spec  # names, not values

    secrets = [value.encode() for value in chaos.secrets.values()]
    haystacks: dict[str, bytes] = {"job spec": spec.encode(), "run record": json.dumps(record, default=str).encode()}
    for path in Path(chaos.cloud.state_dir).rglob("*"):
        if path.is_file() and path.name not in OWNED_BY_THE_SERVICE and "secret-postgrest" not in path.parts:
            haystacks[str(path.relative_to(chaos.cloud.state_dir))] = path.read_bytes()
    haystacks["slack payloads"] = json.dumps(chaos.cloud.slack_messages()).encode()
    database = chain.runs_collection(chaos.cloud).database
    for name in database.list_collection_names():
        haystacks[f"mongodb {name}"] = json.dumps(list(database[name].find({}, {"_id": 0})), default=str).encode()
    if "postgres" in chaos.cloud.endpoints:
        for table in ("runs", "rejected_events", "predictions"):
            haystacks[f"supabase {table}"] = json.dumps(kit.supabase_rows(chaos, table), default=str).encode()

    assert len(haystacks) > 10
    leaks = [where for where, text in haystacks.items() for secret in secrets if secret in text]
    assert leaks == []
