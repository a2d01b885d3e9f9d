"""The README's layout tables are how a newcomer finds a behaviour: every path they name must exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _layout_section() -> str:
    readme = (REPO / "README.md").read_text()
    start = readme.index("## Layout\n")
    return readme[start : readme.index("\n## ", start + 1)]


def test_every_folder_and_module_the_layout_names_exists():
    named: list[Path] = []
    for line in _layout_section().splitlines():
        if not line.startswith("| `"):
            continue
        first, rest = line.split(" | ", 1)
        folders = [Path(p) for p in re.findall(r"`([\w./-]+/)`", first)]
        named += folders
        for module in re.findall(r"`([\w-]+\.(?:py|json|lock|md))`", rest):
            if len(folders) == 1 and not (REPO / folders[0] / module).exists():
                named.append(folders[0] / module)
        named += [Path(p) for p in re.findall(r"`((?:[\w-]+/)+[\w.-]+)`", rest)]
    assert named
    missing = [str(path) for path in named if not (REPO / path).exists()]
    assert not missing, f"README layout names paths that do not exist: {missing}"
