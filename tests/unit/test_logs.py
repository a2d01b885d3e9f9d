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


def test_a_library_logging_through_stdlib_writes_the_same_json(capsys):
    import logging

    logs.setup()
    # A name no other library configures: earlier tests in the same process import SDKs that adjust
    # their own `google.*` loggers, which would make this test depend on the order it runs in.
    library = logging.getLogger("some_sdk.retry")
    with logs.log_context(run_key="r-lib"):
        library.warning("retrying %s", "create", extra={"attempt": 2})
    (line,) = lines(capsys)
    assert (line["severity"], line["message"]) == ("WARNING", "retrying create")
    assert line["logger"] == "some_sdk.retry"
    assert (line["run_key"], line["attempt"]) == ("r-lib", 2)


def test_notice_is_cloud_loggings_own_severity(capsys):
    logs.notice("run announced")
    (line,) = lines(capsys)
    assert line["severity"] == "NOTICE"


def test_concurrent_events_keep_their_own_context(capsys):
    import threading

    barrier = threading.Barrier(2)

    def handle(run_key: str) -> None:
        with logs.log_context(run_key=run_key):
            barrier.wait()
            logs.info("handled")

    threads = [threading.Thread(target=handle, args=(key,)) for key in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(line["run_key"] for line in lines(capsys)) == ["a", "b"]


def test_a_registered_secret_is_cut_from_messages_fields_and_tracebacks(capsys):
    secret = "hooks.example.invalid/services/T0/B0/not-a-real-secret-1234"
    logs.register_secret(secret, "services/T0/B0/not-a-real-secret-1234")
    try:
        raise ValueError(f"Invalid URL detected: {secret}")
    except ValueError as exc:
        logs.log("ERROR", f"post failed: {exc}", exc_info=True, detail=str(exc))
    logs.info("path only: /services/T0/B0/not-a-real-secret-1234")
    text = capsys.readouterr().err
    assert "not-a-real-secret-1234" not in text and text.count("[redacted]") >= 4
