"""Eventarc: pull each function's subscription and POST every message to it as a CloudEvent.

Run as its own process: `python -m local.standins.eventarc --routes FILE`. The routes file (JSON) names the
emulator, the package bucket, and per function its subscription, topic, event type and URL.

Delivery is at-least-once, like a trigger deployed with `--retry`: a message is acknowledged only
when the function answers 2xx; otherwise it is nacked (ack deadline 0) after a growing backoff, so
the emulator redelivers it, while other messages keep flowing. One JSON log line per delivery.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

from deploy.topology import STORAGE_FINALIZED
from local.services.processes import ManagedProcess, start_python_standin
from local.standins.cloudevents import Message, message_published_event, storage_finalized_event
from shared.config import logs
from shared.config.logs import log


@dataclass(frozen=True)
class Route:
    function: str
    subscription: str
    topic: str
    event_type: str
    url: str


@dataclass(frozen=True)
class Routes:
    pubsub_host: str
    project: str
    package_bucket: str
    routes: tuple[Route, ...]
    min_backoff: float = 0.5  # seconds before the first redelivery; production's minimum is 10 s,
    max_backoff: float = 10.0  # shorter here so tests see retries quickly
    timeout: float = 540.0  # a function's maximum run time (Cloud Functions' event-driven limit)

    @classmethod
    def load(cls, path: Path) -> Routes:
        raw = json.loads(path.read_text())
        raw["routes"] = tuple(Route(**route) for route in raw["routes"])
        return cls(**raw)


class Bridge:
    """One pull loop per route; deliveries of a pulled batch run in parallel."""

    def __init__(self, config: Routes) -> None:
        from local.services.clients import subscriber_client

        self.config = config
        self.subscriber = subscriber_client(config.pubsub_host)
        self.pool = ThreadPoolExecutor(max_workers=8 * max(1, len(config.routes)))
        self.attempts: dict[str, int] = {}  # message id → deliveries so far (until acked)
        self.leased: dict[str, str] = {}  # ack id → subscription: pulled, neither acked nor nacked yet
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def event_for(self, route: Route, message: Message) -> CloudEvent | None:
        if route.event_type == STORAGE_FINALIZED:
            return storage_finalized_event(message, self.config.package_bucket)
        return message_published_event(message, self.config.project, route.topic, route.subscription)

    def subscription_path(self, route: Route) -> str:
        return f"projects/{self.config.project}/subscriptions/{route.subscription}"

    def post(self, url: str, event: CloudEvent) -> int:
        headers, body = to_binary(event)  # binary mode: ce-* headers, data as the body, as Eventarc
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return 0  # connection refused or timed out: the function did not take the event

    def deliver(self, route: Route, ack_id: str, message: Message) -> None:
        subscription = self.subscription_path(route)
        event = self.event_for(route, message)
        if event is None:
            self.subscriber.acknowledge(subscription=subscription, ack_ids=[ack_id])
            log("DEBUG", "skipped: not for this trigger", function=route.function,
                message_id=message.message_id, attributes=message.attributes)  # fmt: skip
            return
        with self.lock:
            attempt = self.attempts[message.message_id] = self.attempts.get(message.message_id, 0) + 1
        started = time.monotonic()
        status = self.post(route.url, event)
        fields = {
            "function": route.function,
            "message_id": message.message_id,
            "event_id": event["id"],
            "type": event["type"],
            "subject": event.get("subject"),
            "attempt": attempt,
            "status": status,
            "elapsed_ms": round((time.monotonic() - started) * 1000),
        }
        if 200 <= status < 300:
            self.subscriber.acknowledge(subscription=subscription, ack_ids=[ack_id])
            with self.lock:
                self.attempts.pop(message.message_id, None)
                self.leased.pop(ack_id, None)
            log("INFO", "delivered", **fields)
            return
        backoff = min(self.config.max_backoff, self.config.min_backoff * 2 ** (attempt - 1))
        log("WARNING", "delivery failed; will retry", retry_in_s=backoff, **fields)
        timer = threading.Timer(backoff, self.nack, args=(subscription, ack_id))
        timer.daemon = True
        timer.start()

    def nack(self, subscription: str, ack_id: str) -> None:
        with self.lock:
            self.leased.pop(ack_id, None)
        try:
            self.subscriber.modify_ack_deadline(subscription=subscription, ack_ids=[ack_id], ack_deadline_seconds=0)
        except Exception as error:  # noqa: BLE001 — the lease then simply expires: still redelivered
            log("WARNING", "nack failed", error=repr(error))

    def pump(self, route: Route) -> None:
        from google.api_core import exceptions

        subscription = self.subscription_path(route)
        while not self.stopping.is_set():
            try:
                response = self.subscriber.pull(subscription=subscription, max_messages=10, timeout=5)
            except (exceptions.DeadlineExceeded, exceptions.ServiceUnavailable):
                continue
            except Exception as error:  # noqa: BLE001 — keep the bridge alive; the emulator may restart
                log("ERROR", "pull failed", function=route.function, error=repr(error))
                self.stopping.wait(1.0)
                continue
            with self.lock:
                self.leased.update({received.ack_id: subscription for received in response.received_messages})
            batch = [
                self.pool.submit(self.deliver, route, received.ack_id, _message(received.message))
                for received in response.received_messages
            ]
            for future in batch:
                try:
                    future.result()
                except Exception as error:  # noqa: BLE001 — one bad message must not stop the route
                    log("ERROR", "delivery crashed", function=route.function, error=repr(error))
            if not batch:
                self.stopping.wait(0.05)

    def run(self) -> None:
        threads = [threading.Thread(target=self.pump, args=(r,), daemon=True) for r in self.config.routes]
        for thread in threads:
            thread.start()
        self.stopping.wait()
        self.release_leases()

    def release_leases(self) -> None:
        """On shutdown, hand every undelivered message back at once (its lease would hold it for the
        ack deadline, 600 s): the local cloud's `down` saves what is left undelivered."""
        with self.lock:
            leased = dict(self.leased)
        for ack_id, subscription in leased.items():
            self.nack(subscription, ack_id)
        if leased:
            log("INFO", "undelivered messages handed back", count=len(leased))


def _message(pulled: Any) -> Message:
    return Message(
        message_id=pulled.message_id,
        data=bytes(pulled.data),
        publish_time=pulled.publish_time,
        attributes=dict(pulled.attributes),
    )


def start_eventarc(state_dir: Path, python: str, repo_root: Path, routes: Routes) -> ManagedProcess:
    """Write the routes file and start the bridge; ready once it has its subscriber client."""
    return start_python_standin("eventarc", "routes", routes, state_dir, python, repo_root)


def main() -> None:
    logs.setup(component="eventarc")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=Path, required=True, help="JSON routes file")
    parser.add_argument("--ready-file", type=Path, help="touched once the bridge is pulling")
    args = parser.parse_args()
    bridge = Bridge(Routes.load(args.routes))
    signal.signal(signal.SIGTERM, lambda *_: bridge.stopping.set())
    for route in bridge.config.routes:
        log("INFO", "route", function=route.function, subscription=route.subscription, url=route.url)
    if args.ready_file:
        args.ready_file.write_text("ready\n")
    bridge.run()


if __name__ == "__main__":
    main()
