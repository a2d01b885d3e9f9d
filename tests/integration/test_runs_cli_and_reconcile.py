"""The team's view of recorded runs (`flexrun runs ...`, `flexrun cost`) and the reconciler that repairs
runs whose log events were lost, against the local cloud's stores."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner, Result

from cli.__main__ import main
from local.services.cloud import LocalCloud
from shared.runs.reconcile import reconcile_open_runs
from tests.integration import jobkit
from tests.integration.test_job_state_events import Deliverer, slack_messages

pytestmark = pytest.mark.integration


def flexrun(cloud: LocalCloud, *args: str) -> Result:
    """`flexrun ARGS` as a user runs it against the local cloud: its env file found, no other flag."""
    return CliRunner().invoke(main, list(args), env={"FLEXRUN_ENV_FILE": str(cloud.state_dir / "env")})


@pytest.fixture(scope="module", autouse=True)
def priced() -> Iterator[None]:
    with jobkit.dws_price():
        yield


@pytest.fixture(scope="module")
def deliverer(local_cloud: LocalCloud) -> Deliverer:
    jobkit.write_trainer_outputs(local_cloud.storage_client())
    return Deliverer(local_cloud, "both")


def test_runs_list_show_and_compare_describe_recorded_runs(deliverer: Deliverer, local_cloud: LocalCloud):
    first, _ = deliverer.run_through(list(jobkit.EVENTS))
    error = "The replica workerpool0-0 exited with a non-zero status of 1. ModuleNotFoundError: No module named 'x'"
    second, _ = deliverer.run_through(list(jobkit.EVENTS), error=error)
    shown = flexrun(local_cloud, "runs", "list", "--limit", "200")
    assert shown.exit_code == 0, shown.output
    listed = {line.split()[0]: line for line in shown.output.splitlines()[2:]}
    assert "succeeded" in listed[f"{first}#1"] and "22.25 (22.77)" in listed[f"{first}#1"]
    assert "failed" in listed[f"{second}#1"] and "30m00s" in listed[f"{second}#1"]

    shown = flexrun(local_cloud, "runs", "show", first).output
    sections = [block.splitlines()[0] for block in shown.split("\n\n")]
    assert sections == ["run", "hardware and strategy", "timeline", "cost", "metrics (test period)", "predictions",
                        "artifacts and links"], shown  # fmt: skip
    assert re.search(r"plot +gs://", shown) and re.search(r"console +https://", shown)
    assert re.search(r"SPX +2017-11-13", shown)
    as_json = json.loads(flexrun(local_cloud, "runs", "show", first, "--json").output)
    assert as_json["run_key"] == first and "SPX" in {p["symbol"] for p in as_json["predictions"]}

    compared = flexrun(local_cloud, "runs", "compare", first, second)
    assert compared.exit_code == 0, compared.output
    rows = {line.split()[0]: line.split()[1:] for line in compared.output.splitlines()[2:]}
    assert rows["state"] == ["succeeded", "failed"] and rows["failure_class"] == ["-", "package_import_error"]

    missing = flexrun(local_cloud, "runs", "show", "no-such-run")
    assert missing.exit_code == 1 and "no run no-such-run" in missing.output


def test_cost_of_a_month_adds_up_the_attempts_that_ended_in_it(deliverer: Deliverer, local_cloud: LocalCloud):
    run_key, record = deliverer.run_through(list(jobkit.EVENTS))
    shown = flexrun(local_cloud, "cost", "--month", record.ended_at.strftime("%Y-%m"))
    assert shown.exit_code == 0, shown.output
    lines = dict(line.split(None, 1) for line in shown.output.splitlines()[2:-1])
    assert float(lines["NVIDIA_L4"].strip().lstrip("$")) >= record.estimated_cost_usd > 0
    assert "total  $0.00" in flexrun(local_cloud, "cost", "--month", "1999-01").output


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
    assert deliverer.store.get(run_key).state == "succeeded"
    assert f"{run_key}#1" not in reconcile().advanced, "a finished run is not open any more"
    assert len(slack_messages(local_cloud, run_key)) == 1


def test_report_writes_one_page_with_every_section_from_the_recorded_runs(
    deliverer: Deliverer, local_cloud: LocalCloud, tmp_path
):
    deliverer.run_through(list(jobkit.EVENTS))
    out = tmp_path / "report.html"
    shown = flexrun(local_cloud, "report", "--out", str(out))
    assert shown.exit_code == 0, shown.output
    page = out.read_text()
    for anchor in ("runs-over-time", "wait-and-run", "cost", "metrics", "predictions", "forecasts"):
        section = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S)
        assert section and 'class="empty"' not in section.group(1), anchor
    assert 'src="data:image/png;base64,' in page  # the trainer's plot, read from storage
