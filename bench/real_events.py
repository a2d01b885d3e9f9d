"""The events a function's users wait on, taken from a running local cloud exactly as Eventarc gets them.

The local cloud runs without its functions and without the Eventarc bridge, so every message stays
in the functions' pull subscriptions: a package upload's storage notification, a published run
message, the local Vertex's log entries of a real job. Each is pulled and turned into the CloudEvent
the bridge would POST (local/standins/cloudevents.py), and a bench-served bundle gets it instead.

- validate-package: a new package version uploaded → its finalize event (validated and promoted).
- submit-run: a valid run message for that version → a job created on the local Vertex.
- job-state: the final `service` log line of a job that ran the package to the end → the record
  finished, the trainer's outputs read, one Slack message.
After each event, `check_*` proves the real path was taken (not a duplicate, not a refusal).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cloudevents.http import CloudEvent

from deploy import spec as deploy_spec
from deploy import topology
from local.demo import chain
from local.services.cloud import LocalCloud
from local.standins.cloudevents import Message, message_published_event, storage_finalized_event
from shared.events.job_logs import FINAL_LINES
from shared.polling import poll

SERVICES = ("pubsub", "gcs", "mongo", "slack", "vertex")


class RealEvents:
    def __init__(self, cloud: LocalCloud, scratch: Path) -> None:
        from local.services.clients import subscriber_client

        self.cloud, self.scratch = cloud, scratch
        self.subscriber = subscriber_client(cloud.env["PUBSUB_EMULATOR_HOST"])
        secrets = {name: cloud.env[name] for name in ("MONGODB_URL", "SLACK_WEBHOOK_URL") if name in cloud.env}
        self.env = {spec.name: deploy_spec.local_env(spec, secrets, cloud.env) for spec in deploy_spec.FUNCTIONS}
        self._pending: dict[str, list[Message]] = {}

    def _pull(self, function: str, matches: Any, timeout: float = 120) -> Message:
        """The first message for `function` that `matches`; the others are kept for a later call.

        Pulled messages are acked at once (nothing else reads these subscriptions), so one job's final
        line pulled while waiting for another's is kept here, not lost.
        """
        spec = deploy_spec.function(function)
        path = self.subscriber.subscription_path(topology.PROJECT_ID, spec.subscription)
        pending = self._pending.setdefault(function, [])

        def probe() -> Message | None:
            found = next((m for m in pending if matches(m)), None)
            if found is not None:
                pending.remove(found)
                return found
            response = self.subscriber.pull(subscription=path, max_messages=50, timeout=10)
            if response.received_messages:
                self.subscriber.acknowledge(subscription=path, ack_ids=[r.ack_id for r in response.received_messages])
            for received in response.received_messages:
                pulled = received.message
                pending.append(Message(pulled.message_id, pulled.data, pulled.publish_time, dict(pulled.attributes)))
            return None

        return poll(probe, timeout=timeout, what=f"a message for {function}", interval=0.1)

    # validate-package -------------------------------------------------------------------------
    def package_uploaded(self, version: str) -> CloudEvent:
        from tests.chaos.kit import tiny_package

        path = self.scratch / f"flexrun_trainer-{version}.tar.gz"
        path.write_bytes(tiny_package(version))
        upload = chain.upload_package(self.cloud, path, uploader="bench")
        message = self._pull(
            "validate-package",
            lambda m: (
                m.attributes.get("objectId") == upload.object_name
                and m.attributes.get("eventType") == "OBJECT_FINALIZE"
            ),
        )
        event = storage_finalized_event(message, topology.PACKAGE_BUCKET)
        assert event is not None, "the package upload's notification is not one Eventarc delivers"
        return event

    def check_validated(self, version: str) -> None:
        manifest = chain.read_manifest(self.cloud) or {"entries": []}
        entry = next((e for e in manifest["entries"] if e["version"] == version), None)
        if entry is None or entry["status"] != "validated":
            raise RuntimeError(f"package {version} was not validated and promoted: {entry}")

    # submit-run --------------------------------------------------------------------------------
    def run_requested(self, run_key: str, version: str) -> CloudEvent:
        from tests.chaos.kit import run_request

        chain.publish_run(self.cloud, run_request(run_key, package_version=version))
        spec = deploy_spec.function("submit-run")
        message = self._pull("submit-run", lambda m: json.loads(m.data).get("run_key") == run_key)
        return message_published_event(message, topology.PROJECT_ID, spec.topic, spec.subscription)

    def check_created(self, run_key: str) -> str:
        record = chain.runs_collection(self.cloud).find_one({"run_key": run_key}, {"_id": 0})
        if not record or not record.get("job_id"):
            raise RuntimeError(f"no job was created for {run_key}: {record}")
        return str(record["job_id"])

    # job-state ---------------------------------------------------------------------------------
    def job_ended(self, job_id: str) -> CloudEvent:
        """The job's final `service` line, once the local Vertex reports the job terminal.

        Vertex sets the terminal state about a minute after that line (the local one after
        Timings.vertex_end_delay); waiting for it makes the event the one that finishes the record.
        """

        def final(message: Message) -> bool:
            entry = json.loads(message.data)
            labels = entry.get("resource", {}).get("labels", {})
            text = entry.get("textPayload") or entry.get("jsonPayload", {}).get("message", "")
            return labels.get("job_id") == job_id and str(text).strip() in FINAL_LINES

        message = self._pull("job-state", final, timeout=600)
        self._wait_terminal(job_id)
        spec = deploy_spec.function("job-state")
        return message_published_event(message, topology.PROJECT_ID, spec.topic, spec.subscription)

    def _wait_terminal(self, job_id: str) -> None:
        import urllib.request

        name = f"projects/{topology.PROJECT_ID}/locations/{topology.REGION}/customJobs/{job_id}"
        url = f"{self.cloud.endpoints['vertex']}/v1/{name}"

        def terminal() -> bool:
            with urllib.request.urlopen(url, timeout=10) as response:
                state = json.loads(response.read())["state"]
            return state in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")

        poll(terminal, timeout=120, what=f"job {job_id} to be terminal", interval=0.2)

    def check_finished(self, run_key: str) -> None:
        record = chain.runs_collection(self.cloud).find_one({"run_key": run_key}, {"_id": 0})
        if not record or record.get("state") != "succeeded" or record.get("notified_state") != "succeeded":
            raise RuntimeError(f"{run_key} was not finished and announced: {record and record.get('state')}")
        if not chain.slack_messages_for(self.cloud, run_key):
            raise RuntimeError(f"no Slack message for {run_key}")


def started(scratch: Path) -> LocalCloud:
    started_at = time.perf_counter()
    cloud = LocalCloud(scratch / "cloud", services=SERVICES).start()
    cloud.startup_seconds = time.perf_counter() - started_at  # type: ignore[attr-defined]
    return cloud
