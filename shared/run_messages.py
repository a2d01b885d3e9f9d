"""The Slack message for a run that reached a terminal state: the numbers that matter, and what to do."""

from __future__ import annotations

from typing import Any

from shared.notifier import SlackMessage, fields, section

_ICONS = {"succeeded": ":white_check_mark:", "failed": ":x:", "cancelled": ":no_entry_sign:", "expired": ":hourglass:"}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _model_summary(metrics: dict[str, Any] | None) -> str | None:
    if not metrics:
        return None
    overall = (metrics.get("evaluation") or {}).get("overall") or {}  # trainer metrics.json schema 1
    model, naive = overall.get("model") or {}, overall.get("naive_last_value") or {}
    if "rmse" not in model:
        return None
    line = f"RMSE {model['rmse']:.4g} (naive {naive.get('rmse', float('nan')):.4g})"
    if "directional_accuracy" in model:
        line += f", direction {model['directional_accuracy']:.1%}"
    return line


def run_finished(record: dict[str, Any]) -> SlackMessage:
    state = record.get("state", "?")
    title = f"{_ICONS.get(state, '')} Run `{record.get('run_key')}` {state}".strip()
    headline = (
        f"{title}: {record.get('package_version', '?')} on {record.get('gpu_count', 1)}× {record.get('gpu_type')}"
    )
    pairs = [
        ("Job", str(record.get("job_id", "-"))),
        ("Machine", f"{record.get('machine_type')} in {record.get('region')}"),
        ("Waited for capacity", _duration(record.get("wait_seconds"))),
        ("Ran", _duration(record.get("run_seconds"))),
    ]
    cost = record.get("estimated_cost_usd")
    if cost is not None:
        pairs.append(("Estimated GPU cost", f"${cost:.2f}"))
    summary = _model_summary(record.get("metrics"))
    if summary:
        pairs.append(("Model", summary))
    blocks = [section(f"*{headline}*"), fields(pairs)]
    error = (record.get("error") or {}).get("message")
    if error:
        hint = record.get("hint")
        blocks.append(section(f"*Why:* {error[:500]}" + (f"\n*What to do:* {hint}" if hint else "")))
    if record.get("output_uri"):
        blocks.append(section(f"Outputs: `{record['output_uri']}`"))
    text = headline + (f" — {summary}" if summary else "") + (f" — {error[:200]}" if error else "")
    return SlackMessage(text=text, blocks=blocks)
