"""`make demo`: start the local cloud, run the whole chain once, show what happened, stop everything.

upload package → validate + promote → publish run message → CustomJob on (simulated) DWS flex-start
→ trainer runs → job-state events → run stored in MongoDB and Supabase → Slack message.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from local.demo import chain, results
from local.demo.doctor import DEMO_CHAIN, run_doctor
from local.services.cloud import REPO_ROOT, LocalCloud
from shared.notify.figures import plain
from shared.runs.states import RunState
from shared.stores.mongo_store import MongoRunStore


def _say(step: str, text: str = "") -> None:
    print(f"\n== {step}" + (f": {text}" if text else ""), flush=True)


def _stamp(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def _read_back(cloud: LocalCloud, run_key: str) -> dict[str, dict[str, Any] | None]:
    """The run as each store holds it, read through flexrun's own store classes."""
    from shared.cloud import wiring
    from shared.stores.supabase_store import SupabaseRunStore

    supabase = SupabaseRunStore(wiring.supabase_client(cloud.env["SUPABASE_URL"], cloud.env["SUPABASE_KEY"]))
    mongo = MongoRunStore(chain.runs_collection(cloud).database)
    found = {"MongoDB": mongo.get(run_key), "Supabase": supabase.get(run_key)}
    return {store: plain(record) if record else None for store, record in found.items()}


def run_chain(cloud: LocalCloud, work_dir: Path) -> bool:
    _say("1/5 build", "python -m build --sdist trainer/")
    package = chain.build_trainer_package(work_dir / "dist")
    print(f"built {package.name} ({package.stat().st_size / 1024:.1f} KiB)")

    _say("2/5 upload", "google-cloud-storage → fake-gcs-server → Pub/Sub notification → validate-package")
    upload = chain.upload_package(cloud, package, uploader="make-demo")
    entry = chain.wait_for_manifest_entry(cloud, upload)
    if entry["status"] != "validated":
        print(f"package was rejected: {entry['reasons']}")
        return False
    print(
        f"promoted version {entry['version']} (sha256 {entry['sha256'][:12]}…, validated in "
        f"{entry['validation_seconds']} s) → manifest"
    )

    _say("doctor", "flexrun doctor against the local cloud, after taking one region's DWS L4 quota away")
    diagnosed = run_doctor(cloud)

    run_key = f"demo-{time.strftime('%Y%m%dt%H%M%S')}"
    _say("3/5 run", f"publish a run message to run-requests (run_key {run_key}, fallback {' > '.join(DEMO_CHAIN)})")
    message_id = chain.publish_run(
        cloud,
        {
            "run_key": run_key,
            "requested_by": "make demo",
            "reason": "local demo",
            "max_wait": 600,
            "timeout": 1200,
            "fallback": DEMO_CHAIN,
        },
    )
    print(
        f"published message {message_id}; submit-run skips the step without quota and creates a FLEX_START "
        "CustomJob on the local Vertex AI"
    )

    _say("4/5 wait", "the job queues for capacity, runs the trainer, and reports each state change")
    record = chain.wait_for_run(cloud, run_key, timeout=900)
    print(f"job {record.job_name}")
    for state, at in record.history():
        print(f"  {_stamp(at)}  {state.value}")
    print(f"waited {record.wait_seconds} s for capacity, ran {record.run_seconds} s")

    _say("5/5 results", f"run {run_key}")
    print(results.run_summary(plain(record)))
    _say("predictions", "next trading day, per symbol")
    print(results.predictions_table([plain(row) for row in chain.predictions_for(cloud, run_key)]))
    _say("model against baselines", "test period, pooled over symbols")
    print(results.metrics_table(record.metrics_summary))
    _say("stored", "the run record read back from each store")
    print(results.stores_section(_read_back(cloud, run_key)))
    messages = chain.slack_messages_for(cloud, run_key)
    _say("slack", f"{len(messages)} message(s) received by the local webhook")
    print(results.slack_section(messages))
    skipped = "skipped L4 @ us-east4" in str(messages[0].get("text")) if messages else False
    return diagnosed and skipped and record.state is RunState.SUCCEEDED and len(messages) == 1


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="flexrun-demo-") as scratch:
        state_dir = REPO_ROOT / ".local-cloud" / "demo"
        print(
            "starting the local cloud (Pub/Sub emulator, fake-gcs-server, nx-27017, Slack receiver, "
            "local Vertex AI, 3 functions, Eventarc bridge)…",
            flush=True,
        )
        ok = False
        try:
            with LocalCloud(state_dir) as cloud:
                print(f"local cloud up in {time.monotonic() - started:.1f} s")
                ok = run_chain(cloud, Path(scratch))
        except chain.ChainStalled as stalled:
            print(f"\nthe chain stalled: {stalled}\nlogs: {state_dir / 'logs'}", file=sys.stderr)
        print(
            f"\nlocal cloud stopped. demo {'completed' if ok else 'FAILED'} in "
            f"{time.monotonic() - started:.1f} s wall time"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
