"""`make bench`: run every benchmark module, print one table next to the last recorded run, record it.

`python -m bench cold_start chain` runs only those modules; `python -m bench readme` rewrites the
README's benchmark table from bench/results/ (bench/readme.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys

from bench import history
from bench.measurement import Measurement

# Each module has `run() -> list[Measurement]`; they run in this order, each in this process.
MODULES = (
    "bench.cold_start",
    "bench.validation",
    "bench.submit",
    "bench.chain",
    "bench.startup",
    "bench.trainer",
    "bench.gpu",
)
# Run only when named (`python -m bench trainer_seeds`): five seeds x three members of training.
ON_REQUEST = ("bench.trainer_seeds",)


def _table(rows: list[Measurement], last: dict[str, history.Recorded]) -> str:
    header = (
        f"{'figure':<48} {'value':>12} {'baseline':>30} {'ratio':>8}  {'goal':<8} {'met':<4} "
        f"{'last ratio':>10} {'change':<14}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        baseline = f"{row.baseline:.4g} {row.unit} ({row.baseline_name})"
        then = last.get(row.name)
        lines.append(
            f"{row.name:<48} {row.value:>9.4g} {row.unit:<3}{baseline:>30} {row.ratio:>8.3f}  "
            f"{row.goal or '-':<8} {met:<4} {f'{then.ratio:.3f}' if then else '-':>10} "
            f"{history.change(row.ratio, then):<14}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["readme"]:
        from bench import readme

        changed = readme.rewrite()
        print("README.md benchmark table " + ("rewritten" if changed else "already up to date"))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("only", nargs="*", help="module names to run (default: all), e.g. cold_start")
    args = parser.parse_args(argv)
    named = [m for m in (*MODULES, *ON_REQUEST) if m.split(".")[-1] in args.only]
    selected = named if args.only else list(MODULES)
    stem, stamp = history.stamp_now()
    rows: list[Measurement] = []
    failures: list[str] = []
    for name in selected:
        module = importlib.import_module(name)
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            rows.extend(module.run())
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failures.append(f"{name}: {exc.__class__.__name__}: {exc}")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    last = history.last_recorded(stem)
    print(f"\nflexrun benchmarks — {stamp} — {machine} — load average {load}\n")
    print(_table(rows, last))
    for row in rows:
        if row.note:
            print(f"  {row.name}: {row.note}")
    for failure in failures:
        print(f"FAILED {failure}")
    missed = [row.name for row in rows if row.met is False]
    print("\ngoals missed: " + (", ".join(missed) if missed else "none"))
    payload = {
        "measured_at": stamp,
        "machine": machine,
        "load_average": load,
        "results": [r.as_dict() for r in rows],
        "failures": failures,
    }
    path = history.save(stem, payload)
    print(f"written to bench/results/{path.name}; `python -m bench readme` puts it in the README")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
