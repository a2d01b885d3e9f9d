"""Slack's incoming webhook as flexrun posts to it: the payload, and every documented answer is a retry
whose text names Slack's answer and never the webhook URL (the URL is the secret)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from shared.errors import TransientError
from shared.notify.slack import SlackMessage, SlackNotifier, section

SECRET_PATH = "/services/T0UNIT/B0UNIT/slackTESTsecret4f2a"


class Webhook:
    """A local incoming webhook: answers the next (status, body, headers) queued, 200 `ok` otherwise."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        self.answers: list[tuple[int, str, dict[str, str]]] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                webhook.received.append((self.path, json.loads(body)))
                status, text, headers = webhook.answers.pop(0) if webhook.answers else (200, "ok", {})
                self.send_response(status)
                for name, value in {"Content-Type": "text/plain", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    thread = threading.Thread(target=hook.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def test_a_message_is_posted_as_the_webhooks_json_text_and_blocks(webhook: Webhook):
    notifier = SlackNotifier(SecretStr(webhook.url))
    notifier.send(SlackMessage(text="run x succeeded", blocks=[section("*x* succeeded")]))
    notifier.send(SlackMessage(text="plain"))

    assert webhook.received == [
        (SECRET_PATH, {"text": "run x succeeded", "blocks": [section("*x* succeeded")]}),
        (SECRET_PATH, {"text": "plain"}),
    ]


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (400, "invalid_payload"),
        (403, "action_prohibited"),
        (404, "channel_not_found"),
        (404, "no_service"),
        (410, "channel_is_archived"),
        (500, "rollup_error"),
        (503, "service_unavailable"),
    ],
)
def test_every_documented_refusal_is_retried_naming_slacks_answer_not_the_url(webhook: Webhook, status, answer):
    webhook.answers.append((status, answer, {}))
    with pytest.raises(TransientError) as caught:
        SlackNotifier(webhook.url).send(SlackMessage(text="hello"))

    assert str(caught.value) == f"Slack webhook answered {status}: {answer}"
    assert "slackTESTsecret4f2a" not in repr(caught.value) and caught.value.__suppress_context__


def test_a_rate_limit_is_retried_saying_how_long_slack_asked_to_wait(webhook: Webhook):
    webhook.answers.append((429, '{"ok": false, "error": "rate_limited"}', {"Retry-After": "30"}))
    with pytest.raises(TransientError, match=r"^Slack webhook answered 429: rate_limited, retry after 30 s$"):
        SlackNotifier(webhook.url).send(SlackMessage(text="hello"))


def test_an_unreachable_webhook_is_retried_naming_only_the_error_class():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientError, match=r"^Slack webhook unreachable: ConnectionRefusedError$") as caught:
        SlackNotifier(f"http://127.0.0.1:{port}{SECRET_PATH}").send(SlackMessage(text="hello"))
    assert "slackTESTsecret4f2a" not in repr(caught.value) and caught.value.__suppress_context__
