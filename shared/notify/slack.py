"""Slack through its incoming webhook: one JSON POST over shared/cloud/http.JsonApi.

Not slack_sdk's WebhookClient: importing it costs a function's first event ~45 ms, for a POST of
`{"text": ..., "blocks": [...]}` that http.client (already loaded by the framework) sends as well.
The webhook URL is the secret (it carries no other credential): the client is anonymous, and no
exception or log line made here contains the URL, only a status, Slack's error string or a class name.

Every failure is a TransientError, as with slack_sdk before: the event is redelivered and the
announcement tried again. Slack's answers
(https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks and
https://api.slack.com/docs/rate-limits): 400 `invalid_payload` / `user_not_found`, 403
`action_prohibited`, 404 `channel_not_found`, or `no_service` for a webhook since disabled (reported
in https://github.com/slackapi/slack-github-action/issues/249, and as a 404 in
https://github.com/ansible/ansible/issues/53689), 410 `channel_is_archived`, 429 with a Retry-After
in seconds, 500 `rollup_error`. The 4xx ones need a person (a new webhook, an unarchived channel);
once fixed, a redelivery still posts the message, where acknowledging the refusal would have dropped
it. The error names the answer (and Retry-After), so the log says which case it is.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import SecretStr

from shared.cloud.http import ApiError, JsonApi
from shared.config import logs
from shared.errors import TransientError

TIMEOUT_SECONDS = 10.0  # as with slack_sdk before; announce.LEASE_SECONDS (30 s) is sized after it


@dataclass(frozen=True)
class SlackMessage:
    text: str  # the notification fallback and what a plain client shows
    blocks: list[dict[str, Any]] = field(default_factory=list)


class Notifier(Protocol):
    def send(self, message: SlackMessage) -> None: ...


class SlackNotifier:
    def __init__(self, webhook_url: str | SecretStr, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self._url = webhook_url.get_secret_value() if isinstance(webhook_url, SecretStr) else webhook_url
        self._api = JsonApi(self._url, anonymous=True, timeout=timeout)

    def send(self, message: SlackMessage) -> None:
        payload: dict[str, Any] = {"text": message.text}
        if message.blocks:
            payload["blocks"] = message.blocks
        try:
            self._api.request("POST", self._url, json_body=payload)
        except ApiError as exc:
            # Slack's body is its error string ("no_service"); scrubbed anyway, as every quoted answer is.
            wait = f", retry after {exc.retry_after:g} s" if exc.retry_after is not None else ""
            raise TransientError(f"Slack webhook answered {exc.code}: {logs.scrub(exc.message)[:200]}{wait}") from None
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out: Slack or the network
            raise TransientError(f"Slack webhook unreachable: {exc.__class__.__name__}") from None
        except Exception as exc:
            # A malformed URL's ValueError / InvalidURL quotes the URL, which is the secret: only the
            # class travels on, and `from None` drops the original from any traceback.
            raise TransientError(f"Slack webhook post failed: {exc.__class__.__name__}") from None
        logs.info("slack message sent", slack_text=message.text[:120])


class LogOnlyNotifier:
    """Used when SLACK_WEBHOOK_URL is unset: the message still appears, in the logs."""

    def send(self, message: SlackMessage) -> None:
        logs.notice("slack not configured; message logged instead", slack_text=message.text)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in pairs[:10]]}
