"""Cloud Storage preconditions and the Slack receiver, through the production clients."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest
from google.api_core.exceptions import PreconditionFailed

from deploy import topology
from local.services.cloud import LocalCloud
from shared.errors import TransientError
from shared.notify.slack import SlackMessage, SlackNotifier

pytestmark = pytest.mark.integration


def test_if_generation_match_precondition_is_enforced(recording_cloud: LocalCloud) -> None:
    bucket = recording_cloud.storage_client().bucket(topology.STAGING_BUCKET)
    blob = bucket.blob(f"manifest-{uuid.uuid4().hex}.json")
    blob.upload_from_string(b'{"v": 1}', if_generation_match=0)  # create only if absent
    first = blob.generation

    with pytest.raises(PreconditionFailed):
        bucket.blob(blob.name).upload_from_string(b'{"v": "lost race"}', if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        bucket.blob(blob.name).upload_from_string(b'{"v": "stale"}', if_generation_match=int(first) + 1)

    bucket.blob(blob.name).upload_from_string(b'{"v": 2}', if_generation_match=first)
    assert bucket.blob(blob.name).download_as_bytes() == b'{"v": 2}'


def test_a_create_only_copy_or_rewrite_onto_an_existing_object_is_refused_as_cloud_storage_does(
    recording_cloud: LocalCloud,
) -> None:
    """fake-gcs-server alone would replace the object; local/standins/gcsguard.py answers 412 for it."""
    bucket = recording_cloud.storage_client().bucket(topology.PACKAGE_BUCKET)
    source, target = bucket.blob(f"packages/{uuid.uuid4().hex}.tar.gz"), f"deployable/{uuid.uuid4().hex} copy.tar.gz"
    source.upload_from_string(b"validated bytes")
    bucket.copy_blob(source, bucket, target, if_generation_match=0)  # absent: created
    bucket.blob(source.name).upload_from_string(b"a later upload")

    with pytest.raises(PreconditionFailed):
        bucket.copy_blob(bucket.blob(source.name), bucket, target, if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        bucket.blob(target).rewrite(bucket.blob(source.name), if_generation_match=0)
    assert bucket.blob(target).download_as_bytes() == b"validated bytes"
    current = bucket.get_blob(target)
    assert current is not None
    bucket.copy_blob(bucket.blob(source.name), bucket, target, if_generation_match=current.generation)
    assert bucket.blob(target).download_as_bytes() == b"a later upload"


def test_slack_receiver_records_what_the_webhook_client_posts(recording_cloud: LocalCloud) -> None:
    text = f"run {uuid.uuid4().hex} succeeded"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]

    SlackNotifier(recording_cloud.env["SLACK_WEBHOOK_URL"]).send(SlackMessage(text=text, blocks=blocks))

    assert {"text": text, "blocks": blocks} in recording_cloud.slack_messages()


def test_slack_receiver_fails_the_next_posts_when_told_to(recording_cloud: LocalCloud) -> None:
    faults = json.dumps({"status": 500, "count": 2}).encode()
    admin = urllib.request.Request(f"{recording_cloud.endpoints['slack']}/_admin/faults", data=faults, method="POST")
    urllib.request.urlopen(admin, timeout=5).close()
    webhook = SlackNotifier(recording_cloud.env["SLACK_WEBHOOK_URL"])

    outcomes = []
    for i in range(3):
        try:
            webhook.send(SlackMessage(text=f"attempt {i}"))
            outcomes.append("sent")
        except TransientError as refused:
            outcomes.append(str(refused).split(":")[0])

    assert outcomes == ["Slack webhook answered 500", "Slack webhook answered 500", "sent"]
    messages = recording_cloud.slack_messages()
    assert {"text": "attempt 2"} in messages and {"text": "attempt 0"} not in messages
