"""`python -m bench readme`: the README's benchmark table, regenerated from bench/results/.

Each figure's newest recorded row (bench/history.py), with the date it was measured, so a partial
re-run updates only its own rows; a goal not met is written **missed**, never left to the reader.
The table sits between two markers in README.md; the text around it is the authors'.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench import history

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- bench:begin (python -m bench readme) -->", "<!-- bench:end -->"


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def table(rows: list[tuple[dict[str, Any], str]]) -> str:
    lines = ["| Figure | Value | Baseline (same run) | Ratio | Goal | Met | Measured |", "|---" * 7 + "|"]
    for row, measured_at in rows:
        met = {True: "yes", False: "**missed**", None: "—"}[row["met"]]
        unit = f" {row['unit']}" if row["unit"] else ""
        baseline = f"{_number(row['baseline'])}{unit} ({row['baseline_name']})"
        goal = f"ratio {row['goal']}" if row["goal"] else "—"
        lines.append(
            f"| {row['name']} | {_number(row['value'])}{unit} | {baseline} | {row['ratio']:.3f} | {goal} | {met} "
            f"| {measured_at} |"
        )
    missed = [row["name"] for row, _ in rows if row["met"] is False]
    lines.append("")
    lines.append(f"Goals missed: {', '.join(missed)}." if missed else "Every goal met.")
    return "\n".join(lines)


def rewrite(readme: Path = README, results_dir: Path = history.RESULTS_DIR) -> bool:
    """Replace the marked block of `readme` with the table; True when the file changed."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise RuntimeError(f"{readme.name} has no {BEGIN} … {END} block to fill")
    rows = history.newest_rows(results_dir)
    if not rows:
        raise RuntimeError(f"no results recorded in {results_dir}: run `make bench` first")
    block = f"{BEGIN}\n{table(rows)}\n{END}"
    updated = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, count=1, flags=re.S)
    if updated != text:
        readme.write_text(updated)
    return updated != text
