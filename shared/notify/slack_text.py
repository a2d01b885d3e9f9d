"""The Slack message for a run that reached a terminal state: the numbers that matter, and what to do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from shared.jobs import images
from shared.notify.figures import UNPRICED, change, edge_words, money, percent, plain, price, top_predictions
from shared.notify.slack import SlackMessage, fields, section
from shared.runs.continuation import what_next
from shared.runs.record import Prediction, RunRecord

_ICONS = {"succeeded": ":white_check_mark:", "failed": ":x:", "cancelled": ":no_entry_sign:", "expired": ":hourglass:"}
CONSOLE = "https://console.cloud.google.com"  # links for people in Slack; flexrun never calls it


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _score(block: dict[str, Any], measure: str) -> str:
    value = block.get(measure)
    if not isinstance(value, int | float):
        return "-"
    return f"{value:.1%}" if measure == "directional_accuracy" else f"{value:.4g}"


def model_summary(summary: dict[str, Any] | None) -> str | None:
    """Schema 2: `no significant edge over naive last value, ...; MASE 0.572 (naive 0.580), ...`.
    Schema 1: `RMSE 22.25 (naive 22.77), MAPE 0.485 (naive 0.49), direction 56.0% (naive 47.5%)`."""
    if summary and summary.get("verdict") and "mase" in (summary.get("model") or {}):
        model, naive = summary["model"], summary.get("naive_last_value") or {}
        majority = summary.get("majority_direction") or {}
        return (
            f"{summary['verdict']} (5 % level); MASE {_score(model, 'mase')} (naive {_score(naive, 'mase')}), "
            f"direction {_score(model, 'directional_accuracy')} "
            f"(majority {_score(majority, 'directional_accuracy')})"
        )
    if not summary or "rmse" not in (summary.get("model") or {}):
        return None
    model, naive = summary["model"], summary.get("naive_last_value") or {}
    parts = []
    for label, measure in (("RMSE", "rmse"), ("MAPE %", "mape"), ("direction", "directional_accuracy")):
        if measure in model:
            parts.append(f"{label} {_score(model, measure)} (naive {_score(naive, measure)})")
    return ", ".join(parts)


def console_url(job_name: str | None) -> str | None:
    """The job's page in the Google Cloud console, from `projects/P/locations/L/customJobs/ID`."""
    parts = (job_name or "").split("/")
    if len(parts) != 6 or parts[4] != "customJobs":
        return None
    project, region, job_id = parts[1], parts[3], parts[5]
    return f"{CONSOLE}/vertex-ai/locations/{region}/training/{job_id}/cpu?project={project}"


def _browser(uri: str) -> str:
    return f"{CONSOLE}/storage/browser/{uri.removeprefix('gs://')}"


def _links(record: RunRecord) -> str | None:
    links = []
    if url := console_url(record.job_name):
        links.append(f"<{url}|Vertex AI job>")
    for label, uri in (("plot", record.plot_uri), ("predictions", record.predictions_uri), ("model", record.model_uri)):
        if uri:
            links.append(f"<{_browser(uri.rsplit('/', 1)[0])}|{label}> `{uri}`")
    if not links and record.output_uri and record.job_name:  # an attempt refused at create wrote nothing
        links.append(f"Outputs: `{record.output_uri}`")
    return " · ".join(links) or None


def image_warning(uri: str | None, today: dt.date) -> str | None:
    """A warning when the run's image ends (patch or availability) within WARN_DAYS, or has passed its end of patch."""
    try:
        image = images.image_for(uri) if uri else None
    except images.ImageUnavailable:
        return None  # refused before any job ran; the run's error says so
    ending = image.ends_within(today) if image else None
    if image is None or ending is None:
        return None
    what, when = ending
    days = (when - today).days
    tense = (
        f"reaches its {what} on {when:%Y-%m-%d} (in {days} days)"
        if days >= 0
        else f"passed its {what} on {when:%Y-%m-%d}"
    )
    todo = "move to a newer image (README: moving to a newer TensorFlow)"
    if image.kind is images.ImageKind.PREBUILT:
        todo = "unset VERTEX_AI_EXECUTOR_IMAGE to run on flexrun's trainer image"
    return f":warning: Image `{image.uri}` {tense}: {todo}."


TOP_PREDICTIONS = 5  # the biggest movers; the rest are on the run's page


def predictions_text(predictions: Sequence[Prediction], count: int = TOP_PREDICTIONS) -> str | None:
    """`• MSFT 2017-11-13: 84.09 → 84.51 (+0.50%)` for the `count` biggest predicted moves."""
    rows = [plain(p) for p in predictions]
    if not rows:
        return None
    lines = [
        f"• {p['symbol']} {p.get('target_date', '')}: {price(p.get('last_close'))} → {price(p.get('predicted_close'))}"
        f" ({percent(change(p))})"
        for p in top_predictions(rows, count)
    ]
    more = len(rows) - len(lines)
    return "\n".join(lines) + (f"\n…and {more} more" if more > 0 else "")


def run_finished(
    record: RunRecord,
    today: dt.date | None = None,
    predictions: Sequence[Prediction] = (),
    report_url: str | None = None,
) -> SlackMessage:
    state = record.state.value
    title = f"{_ICONS.get(state, '')} Run `{record.run_key}` {state}".strip()
    attempt = record.attempt
    headline = f"{title}: {record.package_version} on {record.gpu_count}× {record.gpu_type}" + (
        f" (attempt {attempt})" if attempt != 1 else ""
    )
    strategy = record.strategy or "-"
    if record.step_label:
        strategy += f" (fallback step {record.step_label})"
    pairs = [
        ("Job", record.job_id or "-"),
        ("Machine", f"{record.machine_type} in {record.region}"),
        ("Strategy", strategy),
        ("Waited for capacity", duration(record.wait_seconds)),
        ("Ran", duration(record.run_seconds)),
    ]
    cost, total = record.estimated_cost_usd, record.total_cost_usd
    if cost is not None:
        pairs.append(("Estimated GPU cost", money(cost) + (f" (run total {money(total)})" if total else "")))
    elif record.job_name:  # a job ran but the catalog has no verified price for its strategy
        pairs.append(("Estimated GPU cost", UNPRICED))
    summary = model_summary(record.metrics_summary)
    if summary:
        pairs.append(("Model vs naive", summary))
    blocks = [section(f"*{headline}*"), fields(pairs)]
    verdict = edge_words(record.metrics_summary)
    if verdict:
        blocks.append(section(f"*Can we trust it?* {verdict}"))
    forecast = predictions_text(predictions)
    if forecast:
        blocks.append(section("*Predictions* (biggest moves):\n" + forecast))
    error = record.error.message if record.error else ""
    if error:
        hint = record.hint
        why = f"*Why* ({record.failure_class or 'unknown'}): {error[:500]}"
        blocks.append(section(why + (f"\n*What to do:* {hint}" if hint else "")))
    told = record.trainer_outcome.error if record.trainer_outcome else None
    if told and record.trainer_outcome:  # the trainer's own words, not only "read its replica log"
        outcome = record.trainer_outcome
        blocks.append(section(f"*The trainer's last error* ({outcome.reason}, exit {outcome.exit_code}): {told[:500]}"))
    # The hint of an attempt that fell back already names its next step; any other end says what follows.
    ending = what_next(record) if not (record.next_attempt and not record.fallback_error) else None
    if ending:
        blocks.append(section(f"*What happens next:* {ending}"))
    if warning := image_warning(record.executor_image, today or dt.datetime.now(dt.UTC).date()):
        blocks.append(section(warning))
    skipped = [step.line for step in record.skipped_steps if step.line]
    if skipped:  # steps the quota snapshot ruled out before any job (shared/runs/quota_plan.py)
        blocks.append(section("*Skipped for quota:*\n" + "\n".join(f"• {line}" for line in skipped)))
    links = _links(record)
    if report_url:
        links = f"<{report_url}|Run report>" + (f" · {links}" if links else "")
    if links:
        blocks.append(section(links))
    refused = skipped and not record.job_name  # the error is the same list: say it once
    text = (
        headline
        + (f" — {summary}" if summary else "")
        + (f" — {forecast.splitlines()[0].removeprefix('• ')}" if forecast else "")
        + (f" — {'; '.join(skipped)}" if skipped else "")
        + (f" — {error[:200]}" if error and not refused else "")
        + (f" — trainer: {told[:200]}" if told else "")
        + (f" — {ending}" if ending else "")
    )
    return SlackMessage(text=text, blocks=blocks)
