"""The service account's access token straight from the metadata server, on Cloud Run / Cloud Functions gen2.

Why not google.auth.default(): on the serverless runtime it resolves to compute_engine credentials, and
importing google.auth._default, google.oauth2.service_account (cryptography) and google.auth.compute_engine
(whose _metadata module imports requests) costs about 70-80 ms on an instance's first event, against a
cold-start budget of about 0.17 s. The token itself is one GET on http.client, already loaded by werkzeug.

Facts this relies on:
- Cloud Functions and Cloud Run are "GCE equivalent runtimes": the auth library gets the instance's access
  token from `http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token`
  (https://google.aip.dev/auth/4115; the Cloud Run container contract lists the same path under its
  instance metadata server, https://cloud.google.com/run/docs/container-contract). `?scopes=` takes a
  comma-separated list of OAuth scopes, as google-auth's compute_engine._metadata sends it
  (https://cloud.google.com/kuberun/docs/securing/service-identity shows the query).
- Every request must carry `Metadata-Flavor: Google`; the server refuses one without it
  (https://cloud.google.com/compute/docs/metadata/querying-metadata).
- The answer is JSON `{"access_token": "...", "expires_in": 3599, "token_type": "Bearer"}`
  (https://cloud.google.com/compute/docs/access/authenticate-workloads); google-auth reads the same two
  fields (compute_engine/_metadata.py get_service_account_token).
- K_SERVICE is set in every Cloud Run container, which is what a Cloud Functions gen2 function runs in
  (https://cloud.google.com/run/docs/container-contract#env-vars: "The name of the Cloud Run service being run").
- GCE_METADATA_HOST (formerly GCE_METADATA_ROOT) names another host[:port] for the metadata server, as
  google-auth reads it (google/auth/environment_vars.py, compute_engine/_metadata.py); honoured the same way,
  so a local stand-in can serve tokens.

Anything else (a credentials file, a laptop, CI) stays on google.auth.default(): see `applies`.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from shared.config import logs

DEFAULT_HOST = "metadata.google.internal"
TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
FLAVOR_HEADER, FLAVOR = "Metadata-Flavor", "Google"
# google-auth refreshes 3 min 45 s before expiry (google/auth/_helpers.py REFRESH_THRESHOLD); five minutes
# is a little earlier still, so a token handed out is good for any request that starts with it.
REFRESH_MARGIN_SECONDS = 300.0
# google-auth's own metadata timeout (compute_engine/_metadata.py _METADATA_DEFAULT_TIMEOUT): the server is
# on the instance's host, so a slow answer means it is not there, and the event is better retried.
TIMEOUT_SECONDS = 3.0


class MetadataTokenError(OSError):
    """No usable token came back (refused, 5xx, not JSON). An OSError, so http.TRANSIENT redelivers the event."""


def applies(environ: Mapping[str, str] | None = None) -> bool:
    """True on Google's serverless runtime (K_SERVICE set) without an explicit credentials file."""
    env = os.environ if environ is None else environ
    return bool(env.get("K_SERVICE")) and not env.get("GOOGLE_APPLICATION_CREDENTIALS")


def token_url(scopes: Sequence[str], environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    host = env.get("GCE_METADATA_HOST") or env.get("GCE_METADATA_ROOT") or DEFAULT_HOST
    query = f"?{urllib.parse.urlencode({'scopes': ','.join(scopes)})}" if scopes else ""
    return f"http://{host}{TOKEN_PATH}{query}"


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)  # never in a repr, a log line or an exception text
    expires_at: float  # on the source's clock


def fetch(url: str, timeout: float = TIMEOUT_SECONDS) -> tuple[str, float]:
    """(access token, seconds it lives) from one GET of the token URL; MetadataTokenError if none came back."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=timeout)
    try:
        connection.request(
            "GET", f"{parts.path}?{parts.query}" if parts.query else parts.path, headers={FLAVOR_HEADER: FLAVOR}
        )
        answer = connection.getresponse()
        body = answer.read()
    except OSError as exc:  # refused, reset, timed out, unknown host
        raise MetadataTokenError(f"metadata server {parts.netloc} did not answer: {type(exc).__name__}") from exc
    finally:
        connection.close()
    if answer.status != 200:
        # The body is not quoted: it is the server's, and nothing here needs it to decide.
        raise MetadataTokenError(f"metadata server {parts.netloc} answered {answer.status} {answer.reason}")
    try:
        data = json.loads(body)
        token, lifetime = str(data["access_token"]), float(data["expires_in"])
    except (ValueError, KeyError, TypeError):  # not chained: the body holds whatever the server sent
        raise MetadataTokenError(f"metadata server {parts.netloc} sent no access_token/expires_in") from None
    if not token:
        raise MetadataTokenError(f"metadata server {parts.netloc} sent an empty access_token")
    return token, lifetime


class MetadataTokenSource:
    """One scope set's token, fetched on first use and again `REFRESH_MARGIN_SECONDS` before it expires.

    The lock is held across the fetch: functions-framework serves events on threads, and threads that start
    together wait for the one fetch instead of each asking the metadata server."""

    def __init__(
        self,
        scopes: Sequence[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        fetcher: Callable[[str], tuple[str, float]] = fetch,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._scopes = tuple(scopes)
        self._clock, self._fetcher, self._environ = clock, fetcher, environ
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            current = self._token
            if current is None or self._clock() >= current.expires_at - REFRESH_MARGIN_SECONDS:
                started = self._clock()  # the lifetime counts from the request, not from its answer
                value, lifetime = self._fetcher(token_url(self._scopes, self._environ))
                logs.register_secret(value)  # cut out of any log line that might quote a header
                current = self._token = AccessToken(value, started + lifetime)
            return current.value


_sources: dict[tuple[str, ...], MetadataTokenSource] = {}
_sources_lock = threading.Lock()


def token(scopes: Sequence[str]) -> str:
    """The process's cached token for `scopes`, shared by every client that asks for the same scopes."""
    key = tuple(scopes)
    with _sources_lock:
        source = _sources.get(key) or _sources.setdefault(key, MetadataTokenSource(key))
    return source.token()


def reset() -> None:
    """Forget every cached token (tests)."""
    with _sources_lock:
        _sources.clear()
