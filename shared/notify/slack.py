"""Slack through `slack_sdk`'s incoming-webhook client; a failed post is a TransientError (retry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import SecretStr

from shared.config import logs
from shared.errors import TransientError


@dataclass(frozen=True)
class SlackMessage:
    text: str  # the notification fallback and what a plain client shows
    blocks: list[dict[str, Any]] = field(default_factory=list)


class Notifier(Protocol):
    def send(self, message: SlackMessage) -> None: ...


class SlackNotifier:
    def __init__(self, webhook_url: str | SecretStr, *, timeout: int = 10) -> None:
        from slack_sdk.webhook import WebhookClient  # imported lazily: cold start

        url = webhook_url.get_secret_value() if isinstance(webhook_url, SecretStr) else webhook_url
        self._client = WebhookClient(url, timeout=timeout)

    def send(self, message: SlackMessage) -> None:
        try:
            response = self._client.send(text=message.text, blocks=message.blocks or None)
        except OSError as exc:  # connection refused, timeouts: Slack or the network is down
            raise TransientError(f"Slack webhook unreachable: {exc.__class__.__name__}") from None
        except Exception as exc:
            # slack_sdk quotes the URL in its errors ("Invalid URL detected: <url>"); the URL is the
            # secret, so only the error's class travels on (and `from None` drops the original).
            raise TransientError(f"Slack webhook post failed: {exc.__class__.__name__}") from None
        if response.status_code != 200:
            # The webhook URL is a secret: report the status only, never the URL.
            raise TransientError(f"Slack webhook answered {response.status_code}: {response.body[:200]}")
        logs.info("slack message sent", slack_text=message.text[:120])


class LogOnlyNotifier:
    """Used when SLACK_WEBHOOK_URL is unset: the message still appears, in the logs."""

    def send(self, message: SlackMessage) -> None:
        logs.notice("slack not configured; message logged instead", slack_text=message.text)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in pairs[:10]]}
