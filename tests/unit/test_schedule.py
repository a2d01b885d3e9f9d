"""The nightly schedule is data, and the deploy creates the Cloud Scheduler job from that same data."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from cli.schedule import load_schedule
from shared.events.cloudevents import PubsubMessage
from shared.runs.request import default_run_key, parse_run_request

REPO = Path(__file__).resolve().parents[2]


def test_cloudbuild_schedules_exactly_what_the_schedule_file_says():
    substitutions = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())["substitutions"]
    plan = load_schedule()
    assert substitutions["_SCHEDULE"] == plan.cron
    assert substitutions["_TIME_ZONE"] == plan.time_zone
    assert substitutions["_SCHEDULE_NAME"] == plan.name
    assert json.loads(substitutions["_RUN_MESSAGE"]) == plan.message


def test_the_scheduled_message_is_a_valid_run_request_keyed_by_schedule_and_minute():
    from datetime import datetime, timezone

    plan = load_schedule()
    message = PubsubMessage(
        plan.body, {"schedule": plan.name}, "1", datetime(2026, 11, 27, 16, 0, 3, tzinfo=timezone.utc)
    )
    parse_run_request(message)
    assert default_run_key(message) == f"{plan.name}-20261127t1600"
