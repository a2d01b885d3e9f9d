"""What each gcloud command accepts, read from the installed Google Cloud CLI's own `--help`.

`gcloud GROUP ... COMMAND POSITIONAL --help` prints the command's page (positionals are ignored), so
one call per command finds both its path (the NAME line) and its flags (SYNOPSIS and the flag
definitions). Each call takes a second or more, so pages are cached per command for the session and,
per CLI release, on disk under .cache/gcloud-help/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

CACHE_ROOT = Path(__file__).resolve().parents[2] / ".cache" / "gcloud-help"
_REFUSED = "<refused>"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FLAG = re.compile(r"--[a-z0-9][a-z0-9-]*")
# Flag definitions sit at 5-7 spaces of indentation; examples and prose are indented further.
_DEFINITION = re.compile(r"^ {5,7}(--[a-z0-9][a-z0-9-]*)", re.MULTILINE)


@dataclass(frozen=True)
class CommandHelp:
    path: tuple[str, ...]  # e.g. ("pubsub", "topics", "create")
    flags: frozenset[str]

    def accepts(self, flag: str) -> bool:
        return flag in self.flags


def gcloud_available() -> bool:
    return shutil.which("gcloud") is not None


class HelpCache:
    def __init__(self) -> None:
        self._pages: dict[tuple[str, ...], CommandHelp] = {}
        self._lock = threading.Lock()

    def command_for(self, words: tuple[str, ...]) -> CommandHelp:
        """The help of the command that `gcloud WORDS...` runs (WORDS = path + positionals)."""
        with self._lock:
            for length in range(len(words), 0, -1):
                if words[:length] in self._pages:
                    return self._pages[words[:length]]
        page = _read_help_of_longest_valid_prefix(words)
        with self._lock:
            self._pages.setdefault(page.path, page)
        return page


def _disk_cache() -> Path | None:
    """Pages of this exact CLI release, kept across sessions in .cache/ (the SDK's VERSION file names it)."""
    gcloud = shutil.which("gcloud")
    version_file = Path(gcloud).resolve().parents[1] / "VERSION" if gcloud else None
    if version_file is None or not version_file.is_file():
        return None
    return CACHE_ROOT / version_file.read_text().strip()


def _help_text(words: tuple[str, ...]) -> str | None:
    cache = _disk_cache()
    cached = cache / (re.sub(r"[^A-Za-z0-9.-]+", "_", " ".join(words)) + ".txt") if cache else None
    if cached is not None and cached.is_file():
        text = cached.read_text()
        return None if text == _REFUSED else text
    result = subprocess.run(
        ["gcloud", *words, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1", "PAGER": "cat"},
    )
    text = _ANSI.sub("", result.stdout)
    refused = result.returncode != 0 or "\nSYNOPSIS" not in text
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(_REFUSED if refused else text)
    return None if refused else text


def _read_help_of_longest_valid_prefix(words: tuple[str, ...]) -> CommandHelp:
    # gcloud validates some positionals even with --help (`functions describe $name` is refused), so a
    # refused call is retried without its last word until only the command path remains.
    for length in range(len(words), 0, -1):
        try:
            return _read_help(words[:length])
        except _HelpRefused:
            continue
    raise AssertionError(f"`gcloud {' '.join(words)}` is not a gcloud command")


class _HelpRefused(Exception):
    pass


def _read_help(words: tuple[str, ...]) -> CommandHelp:
    text = _help_text(words)
    if text is None:
        raise _HelpRefused(" ".join(words))
    name_line = text.split("NAME", 1)[1].strip().splitlines()[0]
    path = tuple(name_line.split(" - ", 1)[0].split()[1:])  # "gcloud pubsub topics create - ..."
    if "\nCOMMANDS\n" in text or "\nGROUPS\n" in text:
        raise AssertionError(f"gcloud {' '.join(words)} names a command group, not a command")
    synopsis = text.split("SYNOPSIS", 1)[1].split("\nDESCRIPTION", 1)[0]
    wide = text.split("GCLOUD WIDE FLAGS", 1)[1].split("\n\n", 1)[0] if "GCLOUD WIDE FLAGS" in text else ""
    flags = set(_FLAG.findall(synopsis)) | set(_DEFINITION.findall(text)) | set(_FLAG.findall(wide))
    # Boolean flags document their negation in prose ("use --no-retry to disable").
    flags |= {flag for flag in _FLAG.findall(text) if flag.startswith("--no-")}
    return CommandHelp(path=path, flags=frozenset(flags))
