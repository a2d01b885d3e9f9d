"""Builds small trainer-package archives in memory, good and hostile, for tests of validation."""

from __future__ import annotations

import io
import struct
import tarfile
import time
import zlib

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


def special(name: str, kind: bytes) -> tarfile.TarInfo:
    """A device or FIFO member: `tarfile.CHRTYPE`, `BLKTYPE` or `FIFOTYPE`."""
    info = tarfile.TarInfo(name)
    info.type = kind
    return info


def gzip_tar(members: list[tuple[str, bytes]]) -> bytes:
    """A gzip'd tar of exactly these files: no PKG-INFO, no module, nothing added."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members:
            _add_file(archive, name, content)
    return buffer.getvalue()


def zeros_bomb(header: tarfile.TarInfo, zeros: int, *, chunk: int = 16 << 20) -> bytes:
    """A gzip'd tar of `header` followed by `zeros` zero bytes, built without ever holding them.

    Each chunk of zeros is deflated once after a full flush (which resets the compressor's history), so
    the same compressed bytes stand for every later chunk and are repeated. Deflate tops out near
    1000:1, so 10 GB of zeros is about 10 MB. The gzip trailer's CRC is left as zero: computing the real
    one means reading all the zeros, and a validator must refuse the bomb long before the trailer.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = compressor.compress(header.tobuf(format=tarfile.GNU_FORMAT)) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(zeros - chunk, chunk)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: its output continues the stream above
    final = tail.compress(bytes(rest + 1024)) + tail.flush()
    return head + block * (count + 1) + final + struct.pack("<II", 0, (512 + zeros + 1024) & 0xFFFFFFFF)


def size_bomb(uncompressed: int = 10 * 10**9) -> bytes:
    member = tarfile.TarInfo("flexrun_trainer-0.1.0/weights.bin")
    member.size = uncompressed
    return zeros_bomb(member, uncompressed)


def pax_header_bomb(size: int = 64 << 20) -> bytes:
    """A pax extended header that claims `size` bytes: tarfile would read it into memory in one go."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = size
    return zeros_bomb(header, size, chunk=1 << 20)


def member_count_bomb(members: int = 8_000) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        for index in range(members):
            archive.addfile(tarfile.TarInfo(f"flexrun_trainer-0.1.0/f{index}"), io.BytesIO(b""))
    return buffer.getvalue()


def marker_package(marker: str, version: str = "0.1.0") -> bytes:
    """A valid package whose setup.py, module body and main() each create `marker` if ever executed."""
    write = f"open({marker!r}, 'w').write('executed')\n".encode()
    task = b"import sys\n" + write + b"\n\ndef main():\n    " + write + b"    return 0\n\n\n"
    task += b'if __name__ == "__main__":\n    sys.exit(main())\n'
    setup = b"from setuptools import setup\n" + write + f"setup(name='flexrun-trainer', version={version!r})\n".encode()
    return sdist(version, task=task, extra=[(f"flexrun_trainer-{version}/setup.py", setup)])
