"""Static validation of an uploaded trainer package: the archive is read as a stream, never unpacked,
installed or imported.

The gzip'd tar is inflated chunk by chunk and every inflated byte is counted, so a size bomb is refused
the moment it passes its limit, long before it is fully inflated; memory stays flat in the package size.
Member rules: `shared.packages.members`; metadata and requirements: `metadata`, `requirements`, `pins`.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from shared.errors import PackageRejected
from shared.packages.entry_module import check_entry_module, is_module_name, module_paths
from shared.packages.members import MemberRules, WantedFiles
from shared.packages.metadata import PackageMetadata, read_metadata
from shared.packages.pins import ImagePins, default_pins
from shared.packages.requirements import check_requirements

Reasons = list[tuple[str, str]]
_GZIP_MAGIC = b"\x1f\x8b"
_COMPRESSED_CHUNK = 1 << 20
_INFLATED_CHUNK = 1 << 20
# tarfile reads a pax or GNU long-name header's body in one read(); nothing legitimate is this big,
# and a hostile one would otherwise be held in memory whole.
_MAX_SINGLE_READ = 1 << 20


@dataclass(frozen=True)
class PackageLimits:
    max_compressed_bytes: int = 50 << 20
    max_uncompressed_bytes: int = 200 << 20
    max_members: int = 5000
    max_ratio: float = 200.0
    max_text_bytes: int = 1 << 20  # PKG-INFO, pyproject.toml, setup.py and the entry module are read whole
    denied_requirements: frozenset[str] = frozenset(
        {"tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos", "tf-nightly", "tf-nightly-gpu"}
    )


DEFAULT_LIMITS = PackageLimits()


@dataclass(frozen=True)
class PackageInfo:
    name: str
    version: str
    sha256: str
    size: int
    entry_module_path: str
    requirements: tuple[str, ...] = field(default_factory=tuple)
    metadata_source: str = "PKG-INFO"
    entry_module: str = ""
    members: int = 0
    uncompressed_bytes: int = 0


@dataclass(frozen=True)
class Inspection:
    """What a read of the package found; `sha256` is None when reading stopped before the end."""

    reasons: Reasons
    sha256: str | None
    compressed_bytes: int
    inflated_bytes: int
    members: int
    info: PackageInfo | None = None


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class _InflatedStream:
    """Forward-only, seekable-forward file object over the inflated bytes of a gzip stream.

    Hand-written rather than `gzip.GzipFile` + tarfile's stream mode ("r|gz") because those read in
    8-10 KiB steps and re-slice their buffer on every header read (quadratic in the buffer size), and give
    no hook to count inflated bytes or to hash the compressed ones in the same pass.
    """

    def __init__(self, raw: BinaryIO, *, declared_size: int | None, limits: PackageLimits) -> None:
        self._raw = raw
        self._limits = limits
        self._sha256 = hashlib.sha256()
        self._inflator = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer (CRC, size) checked
        self._pending = b""  # compressed bytes not yet fed to the inflator
        self._buffer = memoryview(b"")
        self._raw_done = False
        self.compressed = 0
        self.inflated = 0
        self.position = 0
        self._max_read = max(_MAX_SINGLE_READ, limits.max_text_bytes)
        self._inflation_limit = limits.max_uncompressed_bytes
        if declared_size is not None:
            self._inflation_limit = int(min(self._inflation_limit, max(declared_size, 1 << 16) * limits.max_ratio))

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def _read_compressed(self) -> bytes:
        chunk = self._raw.read(_COMPRESSED_CHUNK)
        if not chunk:
            self._raw_done = True
            return b""
        if self.compressed == 0 and not chunk.startswith(_GZIP_MAGIC[: len(chunk)]):
            raise _Refused("not_gzip", "the object is not gzip-compressed (no gzip magic bytes)")
        self.compressed += len(chunk)
        if self.compressed > self._limits.max_compressed_bytes:
            raise _Refused("too_large", f"more than {self._limits.max_compressed_bytes} bytes compressed")
        self._sha256.update(chunk)
        return chunk

    def _refill(self) -> bool:
        """Inflate the next chunk into the buffer; False at the clean end of the gzip stream."""
        while True:
            if self._inflator.eof:
                rest = self._inflator.unused_data + self._pending
                self._pending = b""
                if not rest:
                    rest = self._read_compressed()
                if not rest:
                    return False
                self._inflator = zlib.decompressobj(wbits=31)  # a further gzip member (RFC 1952 allows many)
                self._pending = rest
            source = self._inflator.unconsumed_tail or self._pending or self._read_compressed()
            self._pending = b""
            if not source and self.compressed == 0:
                raise _Refused("not_gzip", "the object is empty")
            if not source:
                raise _Refused("truncated", "the gzip stream ends before its end marker (truncated upload?)")
            try:
                out = self._inflator.decompress(source, _INFLATED_CHUNK)
            except zlib.error as exc:
                raise _Refused("corrupt_gzip", f"the gzip data is corrupt: {exc}") from None
            if out:
                self.inflated += len(out)
                if self.inflated > self._inflation_limit:
                    raise _Refused(
                        "size_bomb",
                        f"inflates past {self._inflation_limit} bytes (after {self.compressed} compressed bytes)",
                    )
                self._buffer = memoryview(out)
                return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self._max_read:
            raise _Refused("bad_header", f"an archive header asks to read {size} bytes at once")
        parts: list[bytes] = []
        while size > 0:
            if not self._buffer and not self._refill():
                break
            part = self._buffer[:size]
            self._buffer = self._buffer[len(part) :]
            parts.append(part.tobytes())
            size -= len(part)
            self.position += len(part)
        return b"".join(parts)

    def readinto(self, target: bytearray | memoryview) -> int:
        data = self.read(min(len(target), self._max_read))
        target[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = offset if whence == io.SEEK_SET else self.position + offset
        if whence not in (io.SEEK_SET, io.SEEK_CUR) or target < self.position:
            raise io.UnsupportedOperation("the package stream only moves forward")
        while self.position < target:
            if not self._buffer and not self._refill():
                break  # past the end: the next read() returns b"" and tarfile reports the truncation
            step = min(len(self._buffer), target - self.position)
            self._buffer = self._buffer[step:]
            self.position += step
        return self.position

    def tell(self) -> int:
        return self.position

    def drain(self) -> None:
        """Inflate what follows the tar's end marker: it counts against the limits and the CRC is checked."""
        while self._buffer or self._refill():
            self.position += len(self._buffer)
            self._buffer = memoryview(b"")


def _walk(stream: _InflatedStream, limits: PackageLimits, wanted: WantedFiles) -> tuple[Reasons, int]:
    reasons: Reasons = []
    rules = MemberRules()
    count = 0
    with tarfile.open(fileobj=stream, mode="r:") as archive:  # type: ignore[call-overload]
        while (member := archive.next()) is not None:
            archive.members = []  # tarfile keeps every member it read; we need none, so memory stays flat
            count += 1
            if count > limits.max_members:
                raise _Refused("too_many_members", f"more than {limits.max_members} members")
            problem = rules.problem(member)
            if problem:
                reasons.append(problem)
                continue
            relative = wanted.wants(member) if member.isfile() else None
            if relative is None:
                continue
            if member.size > limits.max_text_bytes:
                limit = limits.max_text_bytes
                reasons.append(("file_too_large", f"{member.name} is {member.size} bytes; at most {limit}"))
                continue
            extracted = archive.extractfile(member)
            wanted.keep(relative, member.name, extracted.read() if extracted else b"")
    return reasons, count


def examine_package(
    source: bytes | BinaryIO,
    *,
    entry_module: str,
    limits: PackageLimits = DEFAULT_LIMITS,
    size: int | None = None,
    pins: ImagePins | None = None,
) -> Inspection:
    """Read a package once, start to end, and report every problem found (never raises for bad input).

    `entry_module` is the module run when the package declares none (`[tool.flexrun] entry-module`).
    `size` is the object's declared size (the inflation-ratio limit is relative to it); bytes know theirs.
    `pins` are the trainer image's (default: its lock file, see `shared.packages.pins`).
    """
    if isinstance(source, (bytes, bytearray)):
        size = len(source)
        source = io.BytesIO(source)
    if size is not None and size > limits.max_compressed_bytes:
        return Inspection(
            [("too_large", f"{size} bytes compressed; the limit is {limits.max_compressed_bytes}")], None, 0, 0, 0
        )
    stream = _InflatedStream(source, declared_size=size, limits=limits)
    wanted = WantedFiles(entry_module, limits.max_text_bytes * 4)
    try:
        reasons, members = _walk(stream, limits, wanted)
        stream.drain()
    except _Refused as refused:
        return Inspection([(refused.code, refused.message)], None, stream.compressed, stream.inflated, 0)
    except (tarfile.TarError, EOFError, io.UnsupportedOperation) as exc:
        return Inspection(
            [("not_a_tar", f"not a readable tar archive: {exc}")], None, stream.compressed, stream.inflated, 0
        )
    metadata, metadata_reasons = read_metadata(wanted.metadata_files())
    reasons += metadata_reasons
    if metadata is not None:
        reasons += check_requirements(metadata, limits.denied_requirements, pins or default_pins())
    module = (metadata.entry_module if metadata else None) or entry_module
    entry = None
    if not is_module_name(module):
        reasons.append(("bad_entry_module", f"entry module {module[:200]!r} is not a dotted Python module name"))
    elif (entry := wanted.module(module)) is None:
        paths = " or ".join(module_paths(module))
        reasons.append(("no_entry_module", f"entry module {module} ({paths}) is missing{wanted.missed(module)}"))
    else:
        reasons += check_entry_module(*entry)
    info = None
    if not reasons and metadata is not None and entry is not None:
        info = _info(metadata, stream, entry[0], members, module)
    return Inspection(reasons, stream.sha256, stream.compressed, stream.inflated, members, info)


def _info(
    metadata: PackageMetadata, stream: _InflatedStream, entry_path: str, members: int, module: str
) -> PackageInfo:
    return PackageInfo(
        name=metadata.name,
        version=metadata.version,
        sha256=stream.sha256,
        size=stream.compressed,
        entry_module_path=entry_path,
        requirements=metadata.requirements,
        metadata_source=metadata.source,
        members=members,
        uncompressed_bytes=stream.inflated,
        entry_module=module,
    )


def inspect_package(
    source: bytes | BinaryIO,
    *,
    entry_module: str,
    limits: PackageLimits = DEFAULT_LIMITS,
    size: int | None = None,
    pins: ImagePins | None = None,
) -> PackageInfo:
    """Validate a package; PackageRejected lists every reason found."""
    inspection = examine_package(source, entry_module=entry_module, limits=limits, size=size, pins=pins)
    if inspection.info is None:
        raise PackageRejected(inspection.reasons)
    return inspection.info
