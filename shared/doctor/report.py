"""The doctor's report as text (one line per check, ✓ / ✗ / ·, each ✗ followed by its fix) or JSON."""

from __future__ import annotations

import json

from shared.doctor.checks import Report

_TITLES = {
    "chain": "Fallback chain (each step: does the region offer the GPU, does the quota cover it)",
    "apis": "APIs",
    "resources": "Resources",
    "permissions": "Permissions (testIamPermissions, as each identity)",
}


def _mark(ok: bool | None) -> str:
    return {True: "✓", False: "✗", None: "·"}[ok]


def as_text(report: Report) -> str:
    lines = [f"flexrun doctor: project {report.project} — {report.target}"]
    section = None
    for check in report.checks:
        if check.section != section:
            section = check.section
            lines.append(f"\n{_TITLES.get(section, section)}")
        lines.append(f"  {_mark(check.ok)} {check.name}: {check.detail}")
        if check.fix and check.ok is not True:
            fix_lines = check.fix.splitlines()
            lines.append(f"      fix: {fix_lines[0]}")
            lines.extend(f"      {line.strip()}" for line in fix_lines[1:])
    blocked = report.blocked_steps
    failures = [c for c in report.checks if c.ok is False and c.blocking]
    lines.append("")
    if blocked:
        lines.append(f"{len(blocked)} step(s) can never run: " + "; ".join(blocked))
    if report.ok:
        lines.append("every check passed" if not blocked else "")
    else:
        lines.append(f"{len(failures)} problem(s) keep runs from working: fix the ✗ lines above")
    return "\n".join(line for line in lines if line is not None).rstrip() + "\n"


def as_json(report: Report) -> str:
    payload = {
        "target": report.target,
        "project": report.project,
        "ok": report.ok,
        "blocked_steps": report.blocked_steps,
        "checks": [check.model_dump() for check in report.checks],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False)
