"""Out of order: a job's log events delivered in many orders, and after the reconciler has already
finished the run → the same final record and one Slack message.

Four runs go through the chain while the job-state trigger loses every event (its subscription is
gone; a tap keeps copies). Then each run's captured events are posted straight to the function, one
at a time, in chosen orders: every rotation of the order they were logged in and of its reverse puts
each event in every position and each pair both ways round (a Latin-square sample of all orders).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from local.demo import chain
from shared.polling import poll
from shared.runs.states import TERMINAL_STATES
from tests.chaos import kit
from tests.chaos.kit import Chaos

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.integration,
    # The tap pulls with return_immediately (kit.Tap): deprecated for production subscribers, which
    # stream; an emulator pull without it waits out its whole RPC timeout when nothing is there.
    pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated:DeprecationWarning"),
]

RUNS = ("order-forward", "order-reverse", "order-shuffled", "order-reconciled")
# What must not depend on the order: the rest (times, durations, ids) differs from run to run.
OUTCOME = ("state", "state_rank", "vertex_state", "notified_state", "outputs_complete", "prediction_count")


@pytest.fixture(scope="module")
def lost_events(chaos: Chaos, deployed: dict) -> Iterator[dict[str, list[CloudEvent]]]:
    """Each run's job log events, in the order they were logged; none reached the function."""
    tap = kit.Tap(chaos.cloud)
    try:
        with kit.DetachedTrigger(chaos.cloud, "job-state"):
            for run_key in RUNS:
                chain.publish_run(chaos.cloud, kit.run_request(run_key))
            for run_key in RUNS:
                poll(_succeeded(chaos, run_key), timeout=240, what=f"the job of {run_key} to succeed", interval=0.25)
            captured = tap.events("job-state") + tap.events("job-state")  # the last entries may lag a pull
        by_job: dict[str, list[CloudEvent]] = {}
        for event in captured:
            by_job.setdefault(kit.job_id_of(event) or "", []).append(event)
        events = {}
        for run_key in RUNS:
            (record,) = kit.records_for(chaos.cloud, run_key)
            assert record["state"] not in TERMINAL_STATES, "the events really were lost"
            events[run_key] = by_job[record["job_id"]]
            assert len(events[run_key]) >= 3, [e.data for e in events[run_key]]
        yield events
    finally:
        tap.close()


def _succeeded(chaos: Chaos, run_key: str) -> Any:
    return lambda: kit.vertex_job_state(chaos.cloud, run_key) == "JOB_STATE_SUCCEEDED" or None


def _latin_orders(events: list[CloudEvent]) -> list[list[CloudEvent]]:
    forward, backward = list(events), list(reversed(events))
    return [seq[i:] + seq[:i] for seq in (forward, backward) for i in range(len(seq))]


def _deliver_in_order(chaos: Chaos, events: list[CloudEvent]) -> None:
    for event in events:
        statuses = kit.deliver_until_acked(chaos.url("job-state"), event)
        assert 200 <= statuses[-1] < 300, statuses


def _record(chaos: Chaos, run_key: str) -> dict[str, Any]:
    (record,) = kit.records_for(chaos.cloud, run_key)
    return record


def test_job_events_in_any_order_leave_the_same_record_and_one_slack_message(
    chaos: Chaos, lost_events: dict[str, list[CloudEvent]]
):
    first_orders = {
        "order-forward": lost_events["order-forward"],
        "order-reverse": list(reversed(lost_events["order-reverse"])),  # the terminal event first
        "order-shuffled": random.Random(8).sample(lost_events["order-shuffled"], len(lost_events["order-shuffled"])),
    }
    finished = {}
    for run_key, order in first_orders.items():
        _deliver_in_order(chaos, order)
        finished[run_key] = _record(chaos, run_key)
        assert finished[run_key]["state"] == "succeeded" and finished[run_key]["notified_state"] == "succeeded"

    orders = _latin_orders(lost_events["order-forward"])
    for order in orders:  # again, in every position and both ways round, once the run has finished
        _deliver_in_order(chaos, order)
    assert _record(chaos, "order-forward") == finished["order-forward"], "not one field moved"

    outcomes = {run_key: {k: record.get(k) for k in OUTCOME} for run_key, record in finished.items()}
    assert len({repr(outcome) for outcome in outcomes.values()}) == 1, outcomes
    assert len({frozenset(record) for record in finished.values()}) == 1, "the same fields, whatever the order"
    for run_key in first_orders:
        assert len(kit.slack_for(chaos.cloud, run_key)) == 1
        assert len(kit.jobs_for(chaos.cloud, run_key)) == 1


def test_job_events_after_the_reconciler_finished_the_run_change_nothing(
    chaos: Chaos, lost_events: dict[str, list[CloudEvent]]
):
    from datetime import datetime, timedelta, timezone

    from deploy import topology
    from shared.cloud import wiring
    from shared.cloud.publisher import TopicPublisher
    from shared.runs.reconcile import reconcile_open_runs

    settings = kit.function_settings(chaos)  # as the deployed reconciler runs: same stores, same Slack hook
    report = reconcile_open_runs(
        settings=settings,
        store=wiring.run_store(settings),
        jobs_for_region=wiring.jobs_for_region(settings),
        storage=chaos.cloud.function_storage(),
        notifier=wiring.notifier(settings),
        publisher=TopicPublisher(
            chaos.cloud.publisher(), f"projects/{topology.PROJECT_ID}/topics/{topology.RUN_REQUESTS_TOPIC}"
        ),
        now=datetime.now(timezone.utc) + timedelta(minutes=30),
    )
    assert "order-reconciled#1" in report.advanced, report
    reconciled = _record(chaos, "order-reconciled")
    assert reconciled["state"] == "succeeded" and reconciled["notified_state"] == "succeeded"

    for order in _latin_orders(lost_events["order-reconciled"]):
        _deliver_in_order(chaos, order)
    assert _record(chaos, "order-reconciled") == reconciled
    assert reconciled["outputs_complete"] and reconciled["prediction_count"] == 1
    assert len(kit.slack_for(chaos.cloud, "order-reconciled")) == 1
