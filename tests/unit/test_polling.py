"""The one polling helper: the first truthy answer, a timeout that names what was awaited, backoff."""

from __future__ import annotations

import pytest

from shared.polling import PollTimeout, poll


def test_the_first_truthy_answer_is_returned():
    answers = iter([None, [], {"state": "succeeded"}])
    assert poll(lambda: next(answers), timeout=5, interval=0.001) == {"state": "succeeded"}


def test_a_timeout_names_what_was_awaited_and_probes_at_least_once():
    calls = []
    with pytest.raises(PollTimeout, match="waiting for the job"):
        poll(lambda: calls.append(1), timeout=0, what="the job")
    assert calls == [1]


def test_the_caller_chooses_the_error():
    class Stalled(Exception):
        pass

    with pytest.raises(Stalled):
        poll(lambda: None, timeout=0.01, interval=0.001, error=Stalled)


def test_backoff_doubles_the_pause_up_to_its_bound(monkeypatch):
    import shared.polling as polling

    pauses: list[float] = []
    monkeypatch.setattr(polling.time, "sleep", pauses.append)
    answers = iter([None] * 5 + [True])
    poll(lambda: next(answers), timeout=60, interval=0.2, max_interval=1.0)
    assert pauses == [0.2, 0.4, 0.8, 1.0, 1.0]
