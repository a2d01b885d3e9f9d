"""`flexrun run`, `flexrun schedule tick`, `flexrun jobs list|cancel`: start runs and watch them.

A run starts the way production starts one: a message on the run-requests topic, published with the
real Pub/Sub client (PUBSUB_EMULATOR_HOST, set by the local cloud's env file, selects the emulator).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import click

from cli.schedule import load_schedule
from cli.target import DEFAULT_ENV_FILE, Target, load_target
from shared.config import durations
from shared.notify.figures import plain
from shared.runs.record import RunRecord
from shared.runs.states import RunState

RUN_REQUESTS_TOPIC = "run-requests"


class Duration(click.ParamType):
    """A CLI duration in the one grammar the settings, run messages and fallback steps use."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return durations.parse_seconds(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()


def _target(ctx: click.Context) -> Target:
    return load_target(os.environ.get("FLEXRUN_ENV_FILE", DEFAULT_ENV_FILE))


def publish(target: Target, body: bytes, **attributes: str) -> str:
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(target.settings.gcp_project_id, RUN_REQUESTS_TOPIC)
    # publish(topic, data, ordering_key, retry, timeout, **attrs): typed loosely so mypy does not bind
    # the attributes to `retry`.
    publish_to: Callable[..., Any] = publisher.publish
    return str(publish_to(topic, body, **attributes).result(timeout=60))


def follow(target: Target, run_key: str, timeout: float) -> RunRecord:
    """Poll the run store until the run's last attempt is terminal and announced; one status line."""
    from shared.cloud import wiring
    from shared.notify.slack_text import duration
    from shared.polling import PollTimeout, poll

    store = wiring.run_store(target.settings)
    attempt, shown = 1, ""

    def finished() -> RunRecord | None:
        nonlocal attempt, shown
        record = store.get(run_key, attempt)
        while record and record.next_attempt:  # a fallback step started: follow it
            attempt = record.next_attempt
            record = store.get(run_key, attempt)
        if not record:
            return None
        line = f"attempt {attempt} · {record.gpu_type} · {record.state.value}"
        if record.wait_seconds is not None:
            line += f" (waited {duration(record.wait_seconds)})"
        if line != shown:
            click.echo(f"\r{line:<72}", nl=False, err=True)
            shown = line
        if record.announced:
            click.echo("", err=True)
            return record
        return None

    try:
        return poll(finished, timeout=timeout, what=f"run {run_key}", interval=1.0)
    except PollTimeout:
        last = store.get(run_key, attempt)
        raise click.ClickException(
            _not_finished(last.state.value if last else None, run_key, attempt, timeout)
        ) from None


def _not_finished(state: str | None, run_key: str, attempt: int, timeout: float) -> str:
    """What really happens next, in words: only a run with a live attempt goes on in the cloud (None: no record)."""
    if state is None:
        return (
            f"run {run_key} has no record after {timeout:.0f} s: submit-run refused the message or has not "
            "received it yet (see its log); nothing runs for it until it does"
        )
    if RunState(state).is_terminal():
        return f"run {run_key} ended {state} (attempt {attempt}); its Slack message is not out yet"
    return f"run {run_key} did not finish within {timeout:.0f} s: attempt {attempt} is {state} and goes on in the cloud"


@click.command()
@click.option("--gpu", help="GPU type, e.g. NVIDIA_L4 or L4 (default: the settings').")
@click.option("--count", type=int, default=None, help="GPUs per replica.")
@click.option("--machine-type", help="e.g. g2-standard-8 (must carry the GPU).")
@click.option("--region", help="Vertex AI region.")
@click.option("--max-wait", type=DURATION, help="How long DWS may queue the job: 2h, 1h30m, 0 = no limit.")
@click.option("--timeout", "timeout_", type=DURATION, help="How long the job may run: 1h, 90m (at most 7 days).")
@click.option("--version", "package_version", help="Package version (default: pinned, else newest validated).")
@click.option("--run-key", help="Idempotency key (default: a new one).")
@click.option("--reason", help="Why this run: shown in the record and Slack.")
@click.option("--arg", "args", multiple=True, help="A trainer argument (repeat), e.g. --arg=--epochs --arg=5.")
@click.option("--wait/--no-wait", default=False, help="Follow the run to its end with a live status line.")
@click.option("--wait-timeout", type=DURATION, default="3h", show_default=True, help="How long --wait waits.")
@click.pass_context
def run(ctx: click.Context, gpu: str | None, count: int | None, machine_type: str | None, region: str | None,
        max_wait: int | None, timeout_: int | None, package_version: str | None, run_key: str | None,
        reason: str | None, args: tuple[str, ...], wait: bool, wait_timeout: int) -> None:  # fmt: skip
    """Start a training run now: publishes one run message to run-requests."""
    import getpass

    target = _target(ctx)
    message: dict[str, Any] = {"run_key": run_key or f"cli-{time.strftime('%Y%m%dt%H%M%S')}-{uuid.uuid4().hex[:6]}",
                               "requested_by": getpass.getuser()}  # fmt: skip
    if gpu and not count:
        message["gpu"] = gpu  # the run message's shorthand: "L4", "L4x2"
    elif gpu or count:
        message["gpu"] = {k: v for k, v in (("type", gpu or target.settings.vertex_ai_gpu_type), ("count", count)) if v}
    optional = {"machine_type": machine_type, "region": region, "package_version": package_version, "reason": reason}
    message.update({k: v for k, v in optional.items() if v})
    if max_wait is not None:
        message["max_wait"] = max_wait
    if timeout_ is not None:
        message["timeout"] = timeout_
    if args:
        message["args"] = list(args)
    message_id = publish(target, json.dumps(message).encode())
    click.echo(f"published run {message['run_key']} (message {message_id}) to {target.description}", err=True)
    if wait:
        record = follow(target, message["run_key"], wait_timeout)
        from shared.runs.continuation import what_next

        click.echo(summary_paragraph(plain(record), what_next(record)))
        sys.exit(0 if record.state is RunState.SUCCEEDED else 1)
    click.echo(message["run_key"])


def summary_paragraph(record: dict[str, Any], next_words: str | None = None) -> str:
    """How the run went, in one paragraph a person reads at the end of `run --wait`; `next_words`: what
    follows its last attempt (shared/runs/continuation.what_next), the same sentence Slack shows."""
    from shared.notify.figures import cost_or_unknown, edge_words
    from shared.notify.slack_text import duration

    cost = cost_or_unknown(record.get("estimated_cost_usd"))
    text = (
        f"Run {record.get('run_key')} {record.get('state')} on attempt {record.get('attempt', 1)}: "
        f"{record.get('gpu_count', 1)}x {record.get('gpu_type')} in {record.get('region')} "
        f"({record.get('strategy') or '-'}), waited {duration(record.get('wait_seconds'))} for capacity, "
        f"ran {duration(record.get('run_seconds'))}, estimated GPU cost {cost}."
    )
    if record.get("prediction_count"):
        text += f" {record['prediction_count']} predictions stored."
    if verdict := edge_words(record.get("metrics_summary")):
        text += f" {verdict}"
    if message := (record.get("error") or {}).get("message"):
        text += f" Why: {message}" + (f" What to do: {record['hint']}" if record.get("hint") else "")
    if told := (record.get("trainer_outcome") or {}).get("error"):
        text += f" The trainer's last error: {told}"
    if next_words:
        text += f" What happens next: {next_words}"
    if record.get("job_id"):
        text += f" Details: flexrun runs show {record.get('run_key')}."
    return text


@click.group()
def schedule() -> None:
    """The nightly schedule (deploy/schedule.json)."""


@schedule.command()
@click.pass_context
def tick(ctx: click.Context) -> None:
    """Publish the scheduled run message now, exactly as Cloud Scheduler does."""
    plan = load_schedule()
    message_id = publish(_target(ctx), plan.body, schedule=plan.name)
    click.echo(f"published the {plan.name!r} run message (message {message_id}); cron {plan.cron} {plan.time_zone}")


@click.group()
def jobs() -> None:
    """The Vertex AI jobs flexrun submitted."""


def _job_client(target: Target) -> Any:
    from shared.cloud import wiring

    return wiring.jobs_for_region(target.settings)(target.settings.gcp_region)


@jobs.command("list")
@click.option("--limit", default=20, show_default=True)
@click.pass_context
def list_jobs(ctx: click.Context, limit: int) -> None:
    """flexrun's jobs in the default region, newest first."""
    target = _target(ctx)
    found = _job_client(target).list_custom_jobs(
        request={"parent": target.settings.vertex_parent, "filter": 'labels.flexrun="run"'}
    )
    rows = sorted(found, key=lambda j: j.create_time, reverse=True)[:limit]
    for job in rows:
        labels = job.labels
        click.echo(f"{job.name.rsplit('/', 1)[-1]:<22} {labels.get('run_key', '-'):<36} attempt "
                   f"{labels.get('attempt', '?'):<3} {job.state.name.removeprefix('JOB_STATE_'):<12} "
                   f"{job.create_time:%Y-%m-%d %H:%M}")  # fmt: skip


@jobs.command("cancel")
@click.argument("key")
@click.pass_context
def cancel_job(ctx: click.Context, key: str) -> None:
    """Cancel job KEY (a job id, as `jobs list` shows first) or every unfinished job of run KEY."""
    target = _target(ctx)
    client = _job_client(target)
    for job in unfinished_jobs(client, target.settings.vertex_parent, key):
        client.cancel_custom_job(name=job.name)
        click.echo(f"cancel requested: {job.name} (run {job.labels.get('run_key', '-')})")


OPEN_STATES = ("JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING")


def unfinished_jobs(client: Any, parent: str, key: str) -> list[Any]:
    """The job named KEY if it is flexrun's and unfinished, else the unfinished jobs labelled run_key=KEY."""
    from shared.cloud.http import NotFound  # what shared/jobs/vertex_rest.py raises for an unknown job

    if key.isdigit():  # Vertex job ids are numeric; run keys rarely are, and fall through below
        try:
            job = client.get_custom_job(name=f"{parent}/customJobs/{key}")
        except NotFound:
            job = None
        if job is not None and job.labels.get("flexrun") == "run":
            if job.state.name not in OPEN_STATES:
                raise click.ClickException(f"job {key} is already {job.state.name.removeprefix('JOB_STATE_')}")
            return [job]
    found = client.list_custom_jobs(request={"parent": parent, "filter": f'labels.run_key="{key}"'})
    open_jobs = [j for j in found if j.state.name in OPEN_STATES]
    if not open_jobs:
        raise click.ClickException(f"no unfinished job has id {key} or carries run_key {key}")
    return open_jobs
