"""Duplicate storm: every event of a full chain delivered 1–20 more times, shuffled, while the chain
runs and after it → 1 manifest entry, 1 Vertex job, 1 run record, 1 Slack message.

The tap copies each event the triggers deliver (the storage finalize notifications, the run
message, every job log entry). As soon as a copy is seen it is posted once more, racing the trigger's
own delivery; its other copies join one shuffled pile that is posted, 8 at a time, once the run has
been announced. Every post is repeated until the function acknowledges it, as Eventarc does.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cloudevents.http import CloudEvent

from local.demo import chain
from tests.chaos import kit
from tests.chaos.kit import Chaos

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.integration,
    # The tap pulls with return_immediately (kit.Tap): deprecated for production subscribers, which
    # stream; an emulator pull without it waits out its whole RPC timeout when nothing is there.
    pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated:DeprecationWarning"),
]

MAX_COPIES = 20
FUNCTIONS = ("validate-package", "submit-run", "job-state")


class Storm:
    """Pulls the tap in the background; posts each new event once at once and keeps the rest for later."""

    def __init__(self, chaos: Chaos, tap: kit.Tap, seed: int) -> None:
        self.chaos, self.tap, self.rng = chaos, tap, random.Random(seed)
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.racing: list = []
        self.pile: list[tuple[str, CloudEvent]] = []
        self.copies: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._pull, daemon=True)

    def _pull(self) -> None:
        try:
            while not self.stop.is_set():
                self.drain()
                self.stop.wait(0.2)
        except BaseException as error:  # noqa: BLE001 — raised again by finish(), in the test's thread
            self.error = error

    def drain(self) -> None:
        for function in FUNCTIONS:
            for event in self.tap.events(function):
                copies = self.rng.randint(1, MAX_COPIES)
                self.seen[function] += 1
                self.copies[event["id"]] = copies
                url = self.chaos.url(function)
                self.racing.append(self.pool.submit(kit.deliver_until_acked, url, event))
                self.pile += [(function, event)] * (copies - 1)

    def finish(self) -> list[list[int]]:
        self.stop.set()
        self.thread.join()
        if self.error is not None:
            raise self.error
        self.drain()  # what arrived after the last pull
        self.rng.shuffle(self.pile)
        statuses = kit.storm(self.chaos, self.pile)
        statuses += [future.result() for future in self.racing]
        self.pool.shutdown()
        return statuses


def test_every_event_of_a_chain_delivered_up_to_20_times_shuffled_does_everything_once(
    chaos: Chaos, deployed: dict, tap: kit.Tap, tmp_path: Path
):
    slack_before = len(chaos.cloud.slack_messages())
    storm = Storm(chaos, tap, seed=8)
    storm.thread.start()
    try:
        upload = kit.upload(chaos.cloud, "1.0.2", tmp_path)
        entry = chain.wait_for_manifest_entry(chaos.cloud, upload, timeout=60)
        assert entry["status"] == "validated", entry.get("reasons")
        chain.publish_run(chaos.cloud, kit.run_request("storm-run", package_version="1.0.2"))
        chain.wait_for_run(chaos.cloud, "storm-run", timeout=120)
        time.sleep(1.0)  # the job's last log entries reach the tap
    finally:
        statuses = storm.finish()

    assert storm.seen["validate-package"] >= 1 and storm.seen["submit-run"] == 1 and storm.seen["job-state"] >= 3
    assert all(200 <= delivery[-1] < 300 for delivery in statuses), "every copy was acknowledged in the end"
    assert len(statuses) == sum(storm.copies.values()) > 3 * len(storm.copies)

    assert len(kit.manifest_entries(chaos.cloud, upload.object_name)) == 1
    assert len(kit.jobs_for(chaos.cloud, "storm-run")) == 1
    (record,) = kit.records_for(chaos.cloud, "storm-run")
    assert record["state"] == "succeeded" and record["notified_state"] == "succeeded"
    assert record["package_version"] == "1.0.2" and record["prediction_count"] == 1
    assert len(kit.slack_for(chaos.cloud, "storm-run")) == 1
    assert len(chaos.cloud.slack_messages()) == slack_before + 1, "no other message (a rejection) either"
    database = chain.runs_collection(chaos.cloud).database
    assert database["predictions"].count_documents({"run_key": "storm-run"}) == 1
    if "postgres" in chaos.cloud.endpoints:
        assert len(kit.supabase_rows(chaos, "runs", "storm-run")) == 1
        assert len(kit.supabase_rows(chaos, "predictions", "storm-run")) == 1
