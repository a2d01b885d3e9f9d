"""Structured logs: one JSON line with severity, context bound per event, secrets never printed."""

from __future__ import annotations

import json

from shared.config import logs


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_a_log_line_is_json_with_severity_and_message(capsys):
    logs.info("hello", answer=42)
    (line,) = lines(capsys)
    assert (line["severity"], line["message"], line["answer"]) == ("INFO", "hello", 42)


def test_context_fields_reach_every_line_inside_the_block_only(capsys):
    with logs.log_context(correlation_id="c-1", run_key="nightly-1"):
        logs.warning("inside")
    logs.info("outside")
    inside, outside = lines(capsys)
    assert (inside["correlation_id"], inside["run_key"]) == ("c-1", "nightly-1")
    assert "run_key" not in outside


def test_secret_fields_are_redacted_but_keys_named_like_ids_are_not(capsys):
    logs.error("oops", supabase_key="sk-live-123", slack_webhook_url="https://hooks/x", run_key="r1")
    (line,) = lines(capsys)
    assert "sk-live-123" not in json.dumps(line) and "hooks/x" not in json.dumps(line)
    assert line["run_key"] == "r1"


def test_a_binding_outside_any_event_does_not_label_later_lines(capsys):
    logs.bind(run_key="stray")
    logs.info("later")
    (line,) = lines(capsys)
    assert "run_key" not in line
