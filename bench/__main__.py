"""`make bench`: run every benchmark module, print one table, write bench/results/latest.json."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench.measurement import Measurement

# Each module has `run() -> list[Measurement]`; they run in this order, each in this process.
MODULES = ("bench.cold_start", "bench.validation", "bench.submit", "bench.chain", "bench.trainer", "bench.gpu")
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _table(rows: list[Measurement]) -> str:
    header = f"{'figure':<44} {'value':>12} {'baseline':>28} {'ratio':>8}  {'goal':<8} met"
    lines = [header, "-" * len(header)]
    for row in rows:
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        baseline = f"{row.baseline:.4g} {row.unit} ({row.baseline_name})"
        lines.append(
            f"{row.name:<44} {row.value:>9.4g} {row.unit:<2} {baseline:>28} {row.ratio:>8.3f}  "
            f"{row.goal or '-':<8} {met}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("only", nargs="*", help="module names to run (default: all), e.g. cold_start")
    args = parser.parse_args(argv)
    selected = [m for m in MODULES if not args.only or m.split(".")[-1] in args.only]
    rows: list[Measurement] = []
    failures: list[str] = []
    for name in selected:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name == name:
                continue  # not written yet
            raise
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            rows.extend(module.run())
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failures.append(f"{name}: {exc.__class__.__name__}: {exc}")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nflexrun benchmarks — {stamp} — {machine}\n")
    print(_table(rows))
    for row in rows:
        if row.note:
            print(f"  {row.name}: {row.note}")
    for failure in failures:
        print(f"FAILED {failure}")
    RESULTS_DIR.mkdir(exist_ok=True)
    payload = {"measured_at": stamp, "machine": machine, "results": [r.as_dict() for r in rows], "failures": failures}
    (RESULTS_DIR / "latest.json").write_text(json.dumps(payload, indent=2) + "\n")
    print("\nwritten to bench/results/latest.json")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
