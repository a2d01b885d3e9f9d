"""Where a cold start goes: one more real event per function, handled in a fresh interpreter in phases.

functions-framework's own start (Python, Flask, gunicorn) is what hello world costs too; what a
function adds is importing its `main` and its first event (the SDK imports a handler defers, client
construction, the requests themselves). This runs the bundle's `main` in a plain interpreter with
`-X importtime`, times `import functions_framework`, `import main` and the handler's call on a real
event, and names the packages whose imports cost most (their own time, summed over their modules;
importtime inflates every figure a little, so read them as shares, not as exact milliseconds).
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_RUNNER = r"""
import json, pickle, sys, time
t0 = time.perf_counter()
import functions_framework
t1 = time.perf_counter()
import main
t2 = time.perf_counter()
event = pickle.load(open(sys.argv[1], "rb"))
handler = getattr(main, sys.argv[2])
handler = getattr(handler, "__wrapped__", handler)
handler(event)
t3 = time.perf_counter()
print("PHASES " + json.dumps({"framework": t1 - t0, "main": t2 - t1, "event": t3 - t2}), file=sys.stderr)
"""


def phases(bundle: Path, target: str, event: Any, env: dict[str, str]) -> str:
    """'... import main 0.07 s, first event 0.12 s; heaviest imports ...: pymongo 61 ms, ...'."""
    path = bundle.parent / f"{target}-phases.pickle"  # beside the bundle, in the benchmark's scratch dir
    path.write_bytes(pickle.dumps(event))
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _RUNNER, str(path), target],
        cwd=bundle,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stderr.splitlines()
    found = [line for line in lines if line.startswith("PHASES ")]
    if done.returncode != 0 or not found:
        tail = " | ".join(lines[-3:])
        raise RuntimeError(f"{target}: the phase run failed ({done.returncode}): {tail}")
    timing = json.loads(found[-1].removeprefix("PHASES "))
    heaviest = ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in _import_costs(lines).most_common(5))
    return (
        f"in one interpreter: functions-framework {timing['framework']:.2f} s, import main {timing['main']:.2f} s, "
        f"first event {timing['event']:.2f} s; heaviest imports after the framework's: {heaviest}"
    )


def _import_costs(lines: list[str]) -> Counter[str]:
    """Self time per top-level package (flexrun's own per subpackage), after functions_framework loaded."""
    costs: Counter[str] = Counter()
    started = False
    for line in lines:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if name == "functions_framework":
            started = True
            continue
        if not started:
            continue
        parts = name.split(".")
        key = ".".join(parts[:2]) if parts[0] in ("shared", "google") else parts[0]
        costs[key] += int(own)
    return costs
