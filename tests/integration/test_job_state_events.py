"""Job-state events → run record → one Slack message, through the job-state function's core.

`handle_job_event` is everything the deployed function does after wiring; it runs here against the
local cloud's MongoDB (nx-27017), Supabase (PostgREST endpoint on PostgreSQL), Cloud Storage and Slack
receiver. Only Vertex AI's `get_custom_job` is recorded (see tests/integration/jobkit.py).
"""

from __future__ import annotations

import itertools
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from local.services.cloud import LocalCloud
from shared.errors import TransientError
from shared.notify.slack import SlackNotifier
from shared.runs.job_state import handle_job_event
from shared.runs.record import RunChanges, RunError, RunRecord
from shared.stores.base import RunStore
from tests.integration import jobkit
from tests.integration.stores import STORE_KINDS, settings_for, store_for

pytestmark = pytest.mark.integration

TEXT = {
    "queued": "Job creation request has been successfully validated.",
    "pending": "Waiting for job to be provisioned.",
    "running": "Job is running.",
    "succeeded": "Job completed successfully.",
}


class Deliverer:
    """Delivers log entries of a run's job to the job-state core, as Eventarc would, one at a time."""

    def __init__(self, cloud: LocalCloud, kind: str, store: RunStore | None = None) -> None:
        self.cloud, self.settings = cloud, settings_for(cloud, kind)
        self.store = store or store_for(cloud, kind)
        self.edge = jobkit.RecordedJobService()
        self.storage = cloud.function_storage()  # the core catches the functions' client's errors
        self.notifier = SlackNotifier(cloud.env["SLACK_WEBHOOK_URL"])
        self.publisher = jobkit.RecordedPublisher()

    def event(self, job_id: str, snapshot: Any, text: str, **entry: Any) -> Any:
        """Deliver one entry whose read of the job returns `snapshot`; what `handle_job_event` returns."""
        self.edge.current[snapshot.name] = snapshot
        return self.raw(jobkit.entry_event(jobkit.log_entry(job_id, text, **entry)))

    def raw(self, event: Any) -> Any:
        return handle_job_event(
            event,
            settings=self.settings,
            jobs_for_region=self.edge,
            store=self.store,
            storage=self.storage,
            notifier=self.notifier,
            publisher=self.publisher,
        )

    def run_through(self, order: list[str], *, error: str | None = None) -> tuple[str, RunRecord]:
        run_key, job_id = jobkit.new_run(self.store)
        snapshots = jobkit.job_snapshots(job_id, run_key, error=error)
        for name in order:
            self.event(job_id, snapshots[name], TEXT[name])
        record = self.store.get(run_key)
        assert record is not None
        return run_key, record


def slack_messages(cloud: LocalCloud, run_key: str) -> list[dict[str, Any]]:
    return [m for m in cloud.slack_messages() if f"`{run_key}`" in m.get("text", "")]


@pytest.fixture(scope="module", autouse=True)
def priced() -> Iterator[None]:
    with jobkit.dws_price():
        yield


@pytest.fixture(scope="module")
def outputs(local_cloud: LocalCloud) -> None:
    jobkit.write_trainer_outputs(local_cloud.storage_client())


@pytest.fixture(scope="module")
def both(local_cloud: LocalCloud, outputs: None) -> Deliverer:
    return Deliverer(local_cloud, "both")


@pytest.fixture(scope="module")
def reference(both: Deliverer) -> dict[str, Any]:
    """The record of a run whose events arrived once each, in order."""
    _, record = both.run_through(list(jobkit.EVENTS))
    return jobkit.content(record)


def test_a_run_whose_events_arrive_in_order_holds_every_field_of_the_record(reference: dict[str, Any]):
    assert reference["state"] == "succeeded" and reference["notified_state"] == "succeeded"
    assert (reference["wait_seconds"], reference["run_seconds"]) == (95.0, 1800.0)
    assert reference["estimated_cost_usd"] > 0 and reference["total_cost_usd"] == reference["estimated_cost_usd"]
    assert reference["metrics_summary"]["model"]["rmse"] == 22.25
    assert reference["metrics_summary"]["naive_last_value"]["rmse"] == 22.77
    assert reference["plot_uri"].endswith("/model/forecast.png") and reference["model_uri"].endswith("/model.keras")
    assert reference["predictions_uri"].endswith("/predictions.json") and reference["prediction_count"] == 3
    assert reference["outputs_complete"] is True and reference["attempt"] == 1


@pytest.mark.parametrize("order", list(itertools.permutations(jobkit.EVENTS)), ids="-".join)
def test_every_order_of_the_four_state_events_gives_the_same_record_and_one_message(
    order: tuple[str, ...], both: Deliverer, reference: dict[str, Any], local_cloud: LocalCloud
):
    # Each event once in this order, then the first one again, late (a redelivery).
    run_key, record = both.run_through([*order, order[0]])
    assert jobkit.content(record) == reference
    assert len(slack_messages(local_cloud, run_key)) == 1


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    order=st.permutations(jobkit.EVENTS),
    duplicates=st.lists(st.tuples(st.sampled_from(jobkit.EVENTS), st.integers(0, 8)), max_size=4),
    kind=st.sampled_from(STORE_KINDS),
)
def test_late_and_duplicated_events_in_any_store_converge_on_one_record_and_one_message(
    order: list[str], duplicates: list[tuple[str, int]], kind: str, local_cloud: LocalCloud, outputs: None,
    reference: dict[str, Any],
):  # fmt: skip
    deliveries = list(order)
    for name, position in duplicates:
        deliveries.insert(min(position, len(deliveries)), name)
    run_key, record = Deliverer(local_cloud, kind).run_through(deliveries)
    assert jobkit.content(record) == reference
    assert len(slack_messages(local_cloud, run_key)) == 1


def test_the_same_run_reads_back_identically_from_mongodb_and_supabase(both: Deliverer, local_cloud: LocalCloud):
    run_key, record = both.run_through(list(jobkit.EVENTS))
    mongo, supabase = store_for(local_cloud, "mongodb"), store_for(local_cloud, "supabase")
    from_mongo, from_supabase = mongo.get(run_key), supabase.get(run_key)
    assert from_mongo == from_supabase == record
    assert jobkit.known_fields_only(from_mongo), "every field of the record is in the documented schema"
    assert mongo.predictions(run_key) == supabase.predictions(run_key)
    assert [row.symbol for row in supabase.predictions(run_key)] == ["IXIC", "MSFT", "SPX"]


def test_log_entries_with_a_text_or_a_json_payload_both_wake_the_run(both: Deliverer):
    run_key, job_id = jobkit.new_run(both.store)
    snapshots = jobkit.job_snapshots(job_id, run_key)
    assert both.event(job_id, snapshots["running"], "Job is running.").action == "advanced"
    outcome = both.event(job_id, snapshots["succeeded"], "Job completed successfully.", json_payload=True)
    assert (outcome.action, outcome.state, outcome.notified) == ("advanced", "succeeded", True)


def test_a_failed_run_records_its_failure_class_and_says_what_to_do(both: Deliverer, local_cloud: LocalCloud):
    error = "The replica workerpool0-0 exited with a non-zero status of 127. Termination reason: Error."
    run_key, record = both.run_through(list(jobkit.EVENTS), error=error)
    assert (record.state, record.failure_class) == ("failed", "python_not_found")
    assert "python" in record.hint and record.error == RunError(code=3, message=error)
    assert record.outputs_complete is None and both.store.predictions(run_key) == []
    (message,) = slack_messages(local_cloud, run_key)
    assert "What to do" in json.dumps(message["blocks"]) and "status of 127" in message["text"]


def _post_json(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).close()


def test_when_slack_is_down_the_record_is_complete_and_the_message_follows_on_the_retry(
    both: Deliverer, local_cloud: LocalCloud
):
    run_key, job_id = jobkit.new_run(both.store)
    snapshots = jobkit.job_snapshots(job_id, run_key)
    _post_json(f"{local_cloud.endpoints['slack']}/_admin/faults", {"status": 500, "count": 1})
    with pytest.raises(TransientError, match="Slack webhook answered 500"):
        both.event(job_id, snapshots["succeeded"], TEXT["succeeded"])
    record = both.store.get(run_key)
    assert record.state == "succeeded" and record.metrics_summary and record.notified_state == ""
    assert slack_messages(local_cloud, run_key) == []
    assert both.event(job_id, snapshots["succeeded"], TEXT["succeeded"]).notified  # the trigger's retry
    both.event(job_id, snapshots["succeeded"], TEXT["succeeded"])
    assert len(slack_messages(local_cloud, run_key)) == 1
    assert both.store.get(run_key).notified_state == "succeeded"


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\x00\xffnot json", id="garbage-data"),
        pytest.param(b"[1, 2]", id="json-but-not-an-object"),
        pytest.param(
            json.dumps({"resource": {"type": "ml_job", "labels": {"task_name": "service"}}, "textPayload": "hi"}),
            id="no-job-id",
        ),
        pytest.param(json.dumps(jobkit.log_entry("12abc", "Job is running.")), id="job-id-not-a-number"),
    ],
)
def test_malformed_job_events_are_acknowledged_recorded_and_store_no_run(
    payload: bytes | str, both: Deliverer, local_cloud: LocalCloud
):
    data = payload.encode() if isinstance(payload, str) else payload
    event = jobkit.pubsub_event(data)
    runs_before = both.store.latest_runs(limit=1)
    assert both.raw(event) is None  # acknowledged: no exception, so the trigger does not redeliver
    assert both.store.latest_runs(limit=1) == runs_before
    from local.demo.chain import runs_collection

    rejected = runs_collection(local_cloud).database["rejected_events"]
    assert rejected.count_documents({"function": "job-state", "event_id": event["id"]}) == 1


def test_an_event_for_a_job_flexrun_does_not_know_is_acknowledged_and_ignored(both: Deliverer):
    outcome = both.raw(jobkit.entry_event(jobkit.log_entry("987654321987", "Job is running.")))
    assert outcome.action == "ignored" and both.store.find_by_job_id("987654321987") is None


def test_the_last_log_line_read_before_the_job_ends_asks_for_redelivery(both: Deliverer, local_cloud: LocalCloud):
    error = "The replica workerpool0-0 exited with a non-zero status of 137. Termination reason: OOMKilled."
    run_key, job_id = jobkit.new_run(both.store)
    snapshots = jobkit.job_snapshots(job_id, run_key, error=error)
    both.event(job_id, snapshots["running"], TEXT["running"])
    with pytest.raises(TransientError, match="logged its end"):
        both.event(job_id, snapshots["running"], "Job failed.")
    assert both.store.get(run_key).state == "running" and slack_messages(local_cloud, run_key) == []
    both.event(job_id, snapshots["succeeded"], "Job failed.")  # the trigger's retry, once Vertex has the error
    record = both.store.get(run_key)
    assert (record.state, record.failure_class) == ("failed", "out_of_memory")
    assert len(slack_messages(local_cloud, run_key)) == 1


def test_a_failed_job_read_before_its_error_is_set_asks_for_redelivery(both: Deliverer, local_cloud: LocalCloud):
    run_key, job_id = jobkit.new_run(both.store)
    snapshots = jobkit.job_snapshots(job_id, run_key, error="Resources are insufficient in region: us-central1.")
    failed_without_error = jobkit.without_error(snapshots["succeeded"])
    with pytest.raises(TransientError, match="has not set its error"):
        both.event(job_id, failed_without_error, "Job failed.")
    assert both.store.get(run_key).state == "queued"
    both.event(job_id, snapshots["succeeded"], "Job failed.")
    assert both.store.get(run_key).failure_class == "stockout"
    assert len(slack_messages(local_cloud, run_key)) == 1


def test_a_terminal_record_gains_its_late_error_and_falls_back_without_a_second_message(
    both: Deliverer, local_cloud: LocalCloud
):
    from shared.runs.fallback import Resolved
    from shared.runs.states import RunState

    steps = [Resolved("NVIDIA_L4", 1, "g2-standard-4", "us-central1", "FLEX_START", 1800),
             Resolved("NVIDIA_TESLA_A100", 1, "a2-highgpu-1g", "us-central1", "FLEX_START", 1800)]  # fmt: skip
    run_key, job_id = jobkit.new_run(both.store, chain=steps)
    # An older job-state recorded the failure before Vertex had set the error, and announced it.
    both.store.advance(run_key, 1, RunState.FAILED, RunChanges(vertex_state="JOB_STATE_FAILED"))
    both.store.claim_notification(run_key, 1, RunState.FAILED, lease_seconds=30)
    both.store.finish_notification(run_key, 1, RunState.FAILED, sent=True)
    error = "Resources are insufficient in region: us-central1. The job waited the maximum wait duration (1800s)."
    snapshots = jobkit.job_snapshots(job_id, run_key, error=error)
    published_before = len(both.publisher.messages)
    both.event(job_id, snapshots["succeeded"], "Job failed.")
    record = both.store.get(run_key)
    assert (record.state, record.failure_class, record.next_attempt) == ("failed", "capacity_wait_expired", 2)
    (continuation, attributes) = both.publisher.messages[published_before]
    assert continuation == {"schema_version": 1, "run_key": run_key, "attempt": 2, "reason": "capacity_wait_expired",
                            "correlation_id": record.correlation_id}  # fmt: skip
    assert attributes["flexrun_kind"] == "continuation"
    assert slack_messages(local_cloud, run_key) == []  # the one message was the old one; none more


def test_the_announcement_shows_the_predictions_and_links_the_runs_own_page(both: Deliverer, local_cloud: LocalCloud):
    run_key, record = both.run_through(list(jobkit.EVENTS))
    (message,) = slack_messages(local_cloud, run_key)
    blocks = json.dumps(message["blocks"])
    assert "*Predictions* (biggest moves)" in blocks and "|Run report>" in blocks
    assert record.report_uri and record.report_uri.endswith("/report.html")
    bucket, _, name = record.report_uri.removeprefix("gs://").partition("/")
    page = local_cloud.storage_client().bucket(bucket).blob(name).download_as_text()
    assert "<h2>Predictions</h2>" in page and 'src="model/forecast.png"' in page


def test_a_run_whose_trainer_wrote_nan_fails_with_a_diagnosis_in_both_stores_and_is_announced_once(
    both: Deliverer, local_cloud: LocalCloud
):
    prefix = "runs/job-state-tests-nan/attempt-1/"
    jobkit.write_trainer_outputs(local_cloud.storage_client(), prefix, model_rmse=float("nan"))
    run_key, job_id = jobkit.new_run(both.store, output_uri=jobkit.OUTPUT_URI.replace(jobkit.OUTPUT_PREFIX, prefix))
    snapshots = jobkit.job_snapshots(job_id, run_key)
    for name in jobkit.EVENTS:  # the job itself succeeded
        both.event(job_id, snapshots[name], TEXT[name])
    both.event(job_id, snapshots["succeeded"], TEXT["succeeded"])  # a redelivery changes nothing
    record = both.store.get(run_key)
    assert (record.state, record.failure_class, record.notified_state) == ("failed", "model_diverged", "failed")
    assert "evaluation.overall.model.rmse" in record.error.message and record.metrics is None
    assert store_for(local_cloud, "supabase").get(run_key) == record  # the mirror took every write
    assert both.store.predictions(run_key) == []
    (message,) = slack_messages(local_cloud, run_key)
    assert "diverged" in message["text"] and "model_diverged" in json.dumps(message["blocks"])
