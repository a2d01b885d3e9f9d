"""The one place that decides: acknowledge an event, or raise so the trigger redelivers it.

Permanent errors are logged and recorded, then acknowledged. Transient errors and surprises are raised
(Eventarc retries), unless the event is older than FLEXRUN_MAX_EVENT_AGE: a bug must not loop forever.

An event past its age is not dropped in silence: it is handed to the reconciler, recorded as a rejected
event with reason `needs_reconciliation`, and the run it was about is left to the scheduled reconciler
(shared/runs/reconcile.py), which reads every open run's job and announces every terminal attempt that
was never announced, whatever event was lost.

The age is measured against the event's own `time` attribute (when Pub/Sub or Cloud Storage published
it, stamped by Google), not against when this instance first saw it: that is what Eventarc's retention
(24 h) counts too. Our host clock may disagree with Google's by a little: CLOCK_SKEW_SECONDS is added
to the max age, so a clock that runs a few minutes fast does not drop fresh events; a clock an hour off
is a broken host, and the reconciler still repairs what it drops.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from shared.config import logs
from shared.errors import ConfigurationError, PermanentError, TransientError
from shared.events.cloudevents import CloudEventLike, event_time

T = TypeVar("T")
CLOCK_SKEW_SECONDS = 300
NEEDS_RECONCILIATION = "needs_reconciliation"


def run_handler(
    function: str,
    event: CloudEventLike,
    core: Callable[[], T],
    *,
    max_event_age_seconds: int,
    record_rejection: Callable[[str, dict[str, Any]], None] | None = None,
) -> T | None:
    with logs.log_context(function=function, event_id=event.get("id"), event_type=event.get("type")):
        try:
            return core()
        except PermanentError as exc:
            logs.warning("event acknowledged without retry", reason_code=exc.reason_code, error=str(exc)[:2000])
            if record_rejection is not None:
                _record(record_rejection, exc, event)
            return None
        except ConfigurationError as exc:
            logs.error("function misconfigured; event will be retried", error=str(exc))
            raise
        except TransientError as exc:
            if _too_old(event, max_event_age_seconds):
                logs.error("transient failure past the max event age; handed to the reconciler", error=str(exc))
                _hand_off(record_rejection, event, str(exc))
                return None
            logs.warning("transient failure; event will be retried", error=str(exc))
            raise
        except Exception as exc:
            if _too_old(event, max_event_age_seconds):
                error = f"{exc.__class__.__name__}: {exc}"[:2000]
                logs.error("unexpected failure past the max event age; handed to the reconciler", error=error)
                _hand_off(record_rejection, event, error)
                return None
            logs.error("unexpected failure; event will be retried", error=f"{exc.__class__.__name__}: {exc}"[:2000])
            raise


def _too_old(event: CloudEventLike, max_age_seconds: int) -> bool:
    published = event_time(event)
    if published is None:
        return False
    return (datetime.now(timezone.utc) - published).total_seconds() > max_age_seconds + CLOCK_SKEW_SECONDS


def _hand_off(
    record_rejection: Callable[[str, dict[str, Any]], None] | None, event: CloudEventLike, error: str
) -> None:
    if record_rejection is None:
        return
    try:
        record_rejection(NEEDS_RECONCILIATION, {"event_id": event.get("id"), "subject": event.get("subject"),
                                                "time": event.get("time"), "error": error[:2000]})  # fmt: skip
    except Exception as record_error:  # best effort, as for rejections: the reconciler scans regardless
        logs.warning("could not record the hand-off", error=record_error.__class__.__name__)


def _record(
    record_rejection: Callable[[str, dict[str, Any]], None], exc: PermanentError, event: CloudEventLike
) -> None:
    try:
        record_rejection(exc.reason_code, {"event_id": event.get("id"), "error": str(exc)[:2000]})
    except Exception as record_error:  # recording is best effort; the acknowledgement must still happen
        logs.warning("could not record the rejected event", error=record_error.__class__.__name__)
