"""One duration grammar: `1h30m` means 5400 s in the CLI, a fallback step, a run message and the settings."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from cli.run import DURATION
from shared.config.durations import format_seconds, parse_seconds
from shared.config.settings import load_settings
from shared.errors import ConfigurationError, InvalidRunRequest
from shared.events.cloudevents import PubsubMessage
from shared.runs.fallback import parse_chain
from shared.runs.request import parse_run_request


@pytest.mark.parametrize(
    "text, seconds",
    [("2h", 7200), ("30m", 1800), ("1h30m", 5400), ("45s", 45), ("600", 600), ("0", 0), ("1d", 86400), ("1800s", 1800)],
)
def test_durations_read_as_people_write_them(text: str, seconds: int):
    assert parse_seconds(text) == seconds
    assert parse_seconds(format_seconds(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "soon", "2x", "h", "30m1h", "-5", "1.5h"])
def test_unreadable_durations_are_refused(text: str):
    with pytest.raises(ValueError, match="not a duration"):
        parse_seconds(text)


def test_one_and_a_half_hours_is_the_same_everywhere(monkeypatch):
    import click

    @click.command()
    @click.option("--max-wait", type=DURATION)
    def show(max_wait: int) -> None:
        click.echo(max_wait)

    assert CliRunner().invoke(show, ["--max-wait", "1h30m"]).output.strip() == "5400"
    assert parse_chain("L4:FLEX_START~1h30m, STANDARD")[0].max_wait == 5400
    assert parse_chain([{"strategy": "FLEX_START", "max_wait": "1h30m"}])[0].max_wait == 5400
    body = json.dumps({"max_wait": "1h30m", "timeout": "2h"}).encode()
    request = parse_run_request(PubsubMessage(body, {}, "1", datetime(2026, 12, 1, tzinfo=timezone.utc)))
    assert (request.max_wait, request.timeout) == (5400, 7200)
    monkeypatch.setenv("GCP_PROJECT_ID", "p")
    monkeypatch.setenv("VERTEX_AI_MAX_WAIT_DURATION", "1h30m")
    monkeypatch.setenv("VERTEX_AI_TIMEOUT", "90m")
    settings = load_settings()
    assert (settings.vertex_ai_max_wait_duration, settings.vertex_ai_timeout) == (5400, 5400)


def test_a_bad_duration_is_refused_naming_where_it_was(monkeypatch):
    body = json.dumps({"max_wait": "soon"}).encode()
    with pytest.raises(InvalidRunRequest, match="max_wait"):
        parse_run_request(PubsubMessage(body, {}, "1", datetime(2026, 12, 1, tzinfo=timezone.utc)))
    monkeypatch.setenv("GCP_PROJECT_ID", "p")
    monkeypatch.setenv("VERTEX_AI_TIMEOUT", "8d")  # past Vertex's 7-day ceiling
    with pytest.raises(ConfigurationError, match="VERTEX_AI_TIMEOUT"):
        load_settings()
