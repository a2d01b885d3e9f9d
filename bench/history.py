"""bench/results/: one small JSON file per `python -m bench` run, committed, so a regression shows.

Each file is named after the run's UTC minute (`2026-12-01T2330Z.json`, sortable as text) and holds
that run's rows only; a partial run (`python -m bench cold_start`) is history too. "The last recorded
value" of a figure is the newest earlier file that has a row of that name, whichever run wrote it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# A ratio this much worse than the last recorded one is flagged: the noise of a shared 2-core machine
# between two quiet runs is ~10-20 %, so a smaller threshold would flag noise.
REGRESSION = 1.25


@dataclass(frozen=True)
class Recorded:
    measured_at: str
    value: float
    ratio: float
    met: bool | None
    goal: str | None


def stamp_now() -> tuple[str, str]:
    """(file stem, human stamp) for a run starting now."""
    now = time.gmtime()
    return time.strftime("%Y-%m-%dT%H%MZ", now), time.strftime("%Y-%m-%d %H:%M UTC", now)


def save(stem: str, payload: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    results_dir.mkdir(exist_ok=True)
    path = results_dir / f"{stem}.json"
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path


def runs(results_dir: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """Every recorded run, oldest first (each with its file stem under "stem")."""
    found = []
    for path in sorted(results_dir.glob("*.json")):
        if path.stem == "latest":  # the old single-file format, not part of the history
            continue
        found.append({**json.loads(path.read_text()), "stem": path.stem})
    return found


def last_recorded(before_stem: str, results_dir: Path = RESULTS_DIR) -> dict[str, Recorded]:
    """Figure name → its newest recorded value from a run before `before_stem`."""
    latest: dict[str, Recorded] = {}
    for run in runs(results_dir):
        if run["stem"] >= before_stem:
            continue
        for row in run["results"]:
            latest[row["name"]] = Recorded(run["measured_at"], row["value"], row["ratio"], row["met"], row["goal"])
    return latest


def newest_rows(results_dir: Path = RESULTS_DIR) -> list[tuple[dict[str, Any], str]]:
    """Each figure's newest row with its run's stamp and 1-minute load, ordered as its newest run lists it."""
    rows: dict[str, tuple[dict[str, Any], str]] = {}
    for run in runs(results_dir):
        for row in run["results"]:
            rows.pop(row["name"], None)  # re-insert: a figure's order follows its newest run
            load = run.get("load_average", "").split(",")[0]
            rows[row["name"]] = (row, f"{run['measured_at']}, load {load}" if load else run["measured_at"])
    return list(rows.values())


def change(now_ratio: float, then: Recorded | None) -> str:
    """'+12 %' / '-3 %' of the ratio against the last recorded run, flagged when it got worse."""
    if then is None or not then.ratio:
        return "new"
    delta = now_ratio / then.ratio - 1
    text = f"{delta:+.0%}"
    lower_is_better = not (then.goal or "").startswith(">=")
    worse = now_ratio / then.ratio if lower_is_better else then.ratio / now_ratio if now_ratio else float("inf")
    return text + (" REGRESSED" if worse >= REGRESSION else "")
