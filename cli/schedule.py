"""The nightly schedule as data (deploy/schedule.json): Cloud Scheduler publishes it in production,
`flexrun schedule tick` publishes the very same message by hand or against the local cloud."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEDULE_FILE = Path(__file__).resolve().parents[1] / "deploy" / "schedule.json"


@dataclass(frozen=True)
class Schedule:
    name: str  # becomes the `schedule` attribute: submit-run keys scheduled runs by it and the minute
    cron: str
    time_zone: str
    message: dict[str, Any]

    @property
    def body(self) -> bytes:
        return json.dumps(self.message, separators=(",", ":"), sort_keys=True).encode()


def load_schedule(path: Path = SCHEDULE_FILE) -> Schedule:
    raw = json.loads(path.read_text())
    return Schedule(name=raw["name"], cron=raw["cron"], time_zone=raw["time_zone"], message=raw["message"])
