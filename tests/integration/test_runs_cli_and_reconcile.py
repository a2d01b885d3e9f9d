"""The team's view of recorded runs (`flexrun runs ...`, `flexrun cost`) and the reconciler that repairs
runs whose log events were lost, against the local cloud's stores."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from cli import runs as cli
from local.services.cloud import LocalCloud
from shared.runs.reconcile import reconcile_open_runs
from tests.integration import jobkit
from tests.integration.test_job_state_events import Deliverer, slack_messages

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deliverer(local_cloud: LocalCloud) -> Deliverer:
    jobkit.write_trainer_outputs(local_cloud.storage_client())
    return Deliverer(local_cloud, "both")


def test_runs_list_show_and_compare_describe_recorded_runs(deliverer: Deliverer, local_cloud: LocalCloud, monkeypatch):
    first, _ = deliverer.run_through(list(jobkit.EVENTS))
    error = "The replica workerpool0-0 exited with a non-zero status of 1. ModuleNotFoundError: No module named 'x'"
    second, _ = deliverer.run_through(list(jobkit.EVENTS), error=error)
    for key, value in local_cloud.env.items():
        monkeypatch.setenv(key, value)

    out = io.StringIO()
    assert cli.main(["runs", "list", "--limit", "200"], out=out) == 0
    listed = {line.split()[0]: line for line in out.getvalue().splitlines()[2:]}
    assert "succeeded" in listed[f"{first}#1"] and "22.25 (22.77)" in listed[f"{first}#1"]
    assert "failed" in listed[f"{second}#1"] and "30m00s" in listed[f"{second}#1"]

    out = io.StringIO()
    assert cli.main(["runs", "show", first], out=out) == 0
    shown = out.getvalue()
    assert "plot_uri: gs://" in shown and "console: https://" in shown and "SPX 2017-11-13" in shown

    out = io.StringIO()
    assert cli.main(["runs", "compare", first, second], out=out) == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.getvalue().splitlines()[2:]}
    assert rows["state"] == ["succeeded", "failed"] and rows["failure_class"] == ["-", "package_import_error"]

    assert cli.main(["runs", "show", "no-such-run"], out=io.StringIO()) == 1


def test_cost_of_a_month_adds_up_the_attempts_that_ended_in_it(
    deliverer: Deliverer, local_cloud: LocalCloud, monkeypatch
):
    run_key, record = deliverer.run_through(list(jobkit.EVENTS))
    for key, value in local_cloud.env.items():
        monkeypatch.setenv(key, value)
    out = io.StringIO()
    assert cli.main(["cost", "--month", record["ended_at"].strftime("%Y-%m")], out=out) == 0
    lines = dict(line.split(None, 1) for line in out.getvalue().splitlines()[2:-1])
    assert float(lines["NVIDIA_L4"].strip().lstrip("$")) >= record["estimated_cost_usd"] > 0
    out = io.StringIO()
    cli.main(["cost", "--month", "1999-01"], out=out)
    assert "total  $0.00" in out.getvalue()


def test_the_reconciler_finishes_a_run_whose_log_events_were_lost(deliverer: Deliverer, local_cloud: LocalCloud):
    run_key, job_id = jobkit.new_run(deliverer.store)
    snapshot = jobkit.job_snapshots(job_id, run_key)["succeeded"]
    deliverer.edge.current[snapshot.name] = snapshot  # the job finished; no event ever reached us
    later = datetime.now(timezone.utc) + timedelta(minutes=30)

    def reconcile():
        return reconcile_open_runs(
            settings=deliverer.settings,
            store=deliverer.store,
            jobs_for_region=deliverer.edge,
            storage=deliverer.storage,
            notifier=deliverer.notifier,
            publisher=deliverer.publisher,
            now=later,
        )

    report = reconcile()
    assert f"{run_key}#1" in report.advanced
    assert deliverer.store.get(run_key)["state"] == "succeeded"
    assert f"{run_key}#1" not in reconcile().advanced, "a finished run is not open any more"
    assert len(slack_messages(local_cloud, run_key)) == 1
