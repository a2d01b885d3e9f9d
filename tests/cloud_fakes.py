"""Vertex, Slack and Pub/Sub as a unit test needs them: the calls the cores make, answered in memory."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from shared.cloud.http import NotFound
from shared.errors import TransientError
from shared.events.cloudevents import PubsubMessage
from shared.notify.slack import SlackMessage


class Vertex:
    """Vertex per region: `refusals[region]` answers every create there; elsewhere the job is created,
    and waits for capacity (JOB_STATE_PENDING). Jobs are listed by the run_key and attempt labels, as
    submit-run's adoption check asks for them."""

    def __init__(self, refusals: dict[str, Exception] | None = None) -> None:
        self.refusals: dict[str, Exception] = refusals or {}
        self.created: list[Any] = []

    def for_region(self, region: str) -> Any:
        vertex = self

        class Jobs:
            def list_custom_jobs(self, request: dict[str, str]) -> list[Any]:
                return [job for job in vertex.created if job.key == request["filter"]]

            def create_custom_job(self, parent: str, custom_job: Any) -> Any:
                if region in vertex.refusals:
                    raise vertex.refusals[region]
                labels = custom_job["labels"]
                key = f'labels.run_key="{labels["run_key"]}" AND labels.attempt="{labels["attempt"]}"'
                job = SimpleNamespace(name=f"{parent}/customJobs/{len(vertex.created) + 1}", key=key,
                                      state=SimpleNamespace(name="JOB_STATE_PENDING"), error=None,
                                      create_time=None, start_time=None, end_time=None)  # fmt: skip
                vertex.created.append(job)
                return job

            def get_custom_job(self, name: str) -> Any:
                return next(job for job in vertex.created if job.name == name)

        return Jobs()


class Slack:
    """Records what is posted; down (TransientError, as SlackNotifier raises) for the first `down_for` posts."""

    def __init__(self, down_for: int = 0) -> None:
        self.sent: list[SlackMessage] = []
        self.down_for = down_for

    def send(self, message: SlackMessage) -> None:
        if self.down_for:
            self.down_for -= 1
            raise TransientError("Slack webhook answered 503")
        self.sent.append(message)


class Topic:
    """A topic that keeps what was published, to deliver it by hand."""

    def __init__(self) -> None:
        self.published: list[PubsubMessage] = []

    def publish(self, data: bytes, attributes: dict[str, str]) -> str:
        from datetime import datetime, timezone

        message_id = f"p-{len(self.published) + 1}"
        self.published.append(PubsubMessage(data, dict(attributes), message_id, datetime.now(timezone.utc)))
        return message_id


class Storage:
    """Cloud Storage as the cores use it: bucket(name).blob(path) to read, check and write whole objects."""

    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        self.objects: dict[str, bytes] = objects or {}  # "gs://bucket/path" → bytes

    def bucket(self, bucket_name: str) -> Any:
        storage = self

        class Blob:
            def __init__(self, name: str) -> None:
                self.uri = f"gs://{bucket_name}/{name}"

            def exists(self) -> bool:
                return self.uri in storage.objects

            def download_as_bytes(self) -> bytes:
                if self.uri not in storage.objects:
                    raise NotFound(f"No such object: {self.uri}")  # what shared/cloud/gcs.py raises
                return storage.objects[self.uri]

            def upload_from_string(self, data: str | bytes, content_type: str | None = None) -> None:
                storage.objects[self.uri] = data.encode() if isinstance(data, str) else data

        return SimpleNamespace(blob=Blob)
