"""An event too old to retry is handed to the reconciler, never dropped; its age allows for clock skew."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from shared.errors import TransientError
from shared.events.handling import CLOCK_SKEW_SECONDS, NEEDS_RECONCILIATION, run_handler

MAX_AGE = 3600


def _event(age_seconds: float) -> dict[str, Any]:
    return {"id": "e-1", "type": "t", "time": (datetime.now(timezone.utc) - timedelta(seconds=age_seconds)).isoformat()}


def _failing() -> None:
    raise TransientError("MongoDB is down")


def test_an_event_too_old_to_retry_is_recorded_as_needing_reconciliation():
    recorded: list[tuple[str, dict[str, Any]]] = []
    event = _event(MAX_AGE + CLOCK_SKEW_SECONDS + 60)
    result = run_handler("job-state", event, _failing, max_event_age_seconds=MAX_AGE,
                         record_rejection=lambda code, detail: recorded.append((code, detail)))  # fmt: skip
    assert result is None
    ((code, detail),) = recorded
    assert code == NEEDS_RECONCILIATION and detail["event_id"] == "e-1" and "MongoDB is down" in detail["error"]


def test_an_event_just_past_its_age_on_a_fast_clock_is_still_retried():
    with pytest.raises(TransientError):
        run_handler("job-state", _event(MAX_AGE + CLOCK_SKEW_SECONDS / 2), _failing, max_event_age_seconds=MAX_AGE)
