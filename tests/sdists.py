"""Builds small trainer-package archives in memory, good and hostile, for tests of validation."""

from __future__ import annotations

import io
import tarfile
import time

GOOD_TASK = b'''"""A tiny trainer."""
import sys


def main() -> int:
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def pkg_info(name: str = "flexrun-trainer", version: str = "0.1.0", requires: tuple[str, ...] = ()) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    return ("\n".join(lines) + "\n").encode()


def _add_file(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = int(time.time())
    archive.addfile(info, io.BytesIO(content))


def sdist(
    version: str = "0.1.0",
    *,
    task: bytes | None = GOOD_TASK,
    requires: tuple[str, ...] = (),
    extra: list[tarfile.TarInfo | tuple[str, bytes]] | None = None,
    metadata: bytes | None = None,
    root: str | None = None,
) -> bytes:
    root = root or f"flexrun_trainer-{version}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        _add_file(
            archive,
            f"{root}/PKG-INFO",
            metadata if metadata is not None else pkg_info(version=version, requires=requires),
        )
        if task is not None:
            _add_file(archive, f"{root}/src/flexrun_trainer/__init__.py", b"")
            _add_file(archive, f"{root}/src/flexrun_trainer/task.py", task)
        for item in extra or []:
            if isinstance(item, tarfile.TarInfo):
                archive.addfile(item)
            else:
                _add_file(archive, *item)
    return buffer.getvalue()


def link(name: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info
