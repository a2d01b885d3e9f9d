"""`flexrun run --wait` says what really happens next when it stops waiting."""

from __future__ import annotations

from cli.run import _not_finished


def test_a_refused_message_has_no_record_and_is_not_said_to_go_on():
    text = _not_finished(None, "r1", 1, 60)
    assert "refused the message" in text and "goes on" not in text


def test_a_live_attempt_goes_on_in_the_cloud():
    assert "attempt 2 is pending and goes on in the cloud" in _not_finished("pending", "r1", 2, 60)


def test_an_ended_attempt_not_announced_yet_is_said_to_have_ended():
    text = _not_finished("failed", "r1", 1, 60)
    assert "ended failed" in text and "goes on" not in text
