"""Static validation of an uploaded trainer package: the archive is read, never installed or imported.

Reads the gzip'd tar as a stream and counts inflated bytes as it goes, so a size bomb is refused
before it is fully inflated. Member rules follow Python's `tarfile` "data" filter.
"""

from __future__ import annotations

import ast
import email.parser
import gzip
import hashlib
import io
import posixpath
import tarfile
import zlib
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from shared.errors import PackageRejected

_TEXT_FILE_LIMIT = 1 << 20  # PKG-INFO and the entry module are read; nothing bigger is needed


@dataclass(frozen=True)
class PackageLimits:
    max_compressed_bytes: int = 50 << 20
    max_uncompressed_bytes: int = 200 << 20
    max_members: int = 5000
    max_ratio: float = 200.0
    denied_requirements: frozenset[str] = frozenset({"tensorflow-cpu", "tensorflow-gpu", "tf-nightly"})


@dataclass(frozen=True)
class PackageInfo:
    name: str
    version: str
    sha256: str
    size: int
    entry_module_path: str
    requirements: tuple[str, ...] = field(default_factory=tuple)


class _InflationExceeded(Exception):
    pass


class _CountingReader(io.RawIOBase):
    """Counts inflated bytes and stops reading the moment they pass the limit."""

    def __init__(self, stream: gzip.GzipFile, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._stream.read(len(buffer))
        self.count += len(chunk)
        if self.count > self._limit:
            raise _InflationExceeded
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _member_problem(member: tarfile.TarInfo, seen: set[str]) -> tuple[str, str] | None:
    name = member.name
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return ("absolute_path", f"member {name!r} has an absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        return ("path_traversal", f"member {name!r} escapes the archive with '..'")
    if member.issym() or member.islnk():
        return ("link_member", f"member {name!r} is a link (to {member.linkname!r})")
    if not (member.isfile() or member.isdir()):
        return ("special_member", f"member {name!r} is a device, FIFO or other special file")
    normalized = posixpath.normpath(name)
    if normalized in seen:
        return ("duplicate_member", f"member {name!r} appears twice")
    seen.add(normalized)
    return None


def _has_main_guard(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
            return True
    return False


def _unconditional_main_call(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Name) and func.id == "main":
                return True
    return False


def _check_entry_module(path: str, source: bytes) -> list[tuple[str, str]]:
    try:
        tree = ast.parse(source, filename=path)
        compile(tree, path, "exec")  # compile only: the code is never executed
    except (SyntaxError, ValueError) as exc:
        return [("entry_module_syntax", f"{path} does not compile: {exc}")]
    reasons = []
    if not _has_main_guard(tree):
        reasons.append(("no_main_guard", f'{path} has no `if __name__ == "__main__"` guard'))
    if _unconditional_main_call(tree):
        reasons.append(("unconditional_main", f"{path} calls main() at import time"))
    return reasons


def _parse_pkg_info(raw: bytes, limits: PackageLimits) -> tuple[str, str, tuple[str, ...], list[tuple[str, str]]]:
    message = email.parser.BytesParser().parsebytes(raw)
    name, version = (message.get("Name") or "").strip(), (message.get("Version") or "").strip()
    reasons: list[tuple[str, str]] = []
    if not name or not version:
        reasons.append(("metadata_incomplete", "PKG-INFO lacks Name or Version"))
    else:
        try:
            Version(version)
        except InvalidVersion:
            reasons.append(("bad_version", f"version {version!r} is not a PEP 440 version"))
    requirements = tuple(message.get_all("Requires-Dist") or ())
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            reasons.append(("bad_requirement", f"{text!r} is not a PEP 508 requirement: {exc}"))
            continue
        if requirement.name.lower().replace("_", "-") in limits.denied_requirements:
            reasons.append(("denied_requirement", f"{requirement.name} would replace the image's TensorFlow"))
    return name, version, requirements, reasons


DEFAULT_LIMITS = PackageLimits()


def inspect_package(data: bytes, *, entry_module: str, limits: PackageLimits = DEFAULT_LIMITS) -> PackageInfo:
    """Validate an sdist's bytes; PackageRejected lists every reason found."""
    size = len(data)
    if size > limits.max_compressed_bytes:
        raise PackageRejected([("too_large", f"{size} bytes compressed; the limit is {limits.max_compressed_bytes}")])
    inflation_limit = int(min(limits.max_uncompressed_bytes, max(size, 1 << 16) * limits.max_ratio))
    module_suffix = entry_module.replace(".", "/") + ".py"
    reasons: list[tuple[str, str]] = []
    seen: set[str] = set()
    pkg_info: bytes | None = None
    entry: tuple[str, bytes] | None = None
    counter = _CountingReader(gzip.GzipFile(fileobj=io.BytesIO(data)), inflation_limit)
    try:
        with tarfile.open(fileobj=io.BufferedReader(counter), mode="r|") as archive:
            for index, member in enumerate(archive, start=1):
                if index > limits.max_members:
                    raise PackageRejected([("too_many_members", f"more than {limits.max_members} members")])
                problem = _member_problem(member, seen)
                if problem:
                    reasons.append(problem)
                    continue
                if not member.isfile():
                    continue
                parts = member.name.split("/")
                relative = "/".join(parts[1:])
                wanted = relative == "PKG-INFO" or relative in (module_suffix, "src/" + module_suffix)
                if wanted and member.size <= _TEXT_FILE_LIMIT:
                    extracted = archive.extractfile(member)
                    content = extracted.read() if extracted else b""
                    if relative == "PKG-INFO":
                        pkg_info = content
                    else:
                        entry = (member.name, content)
    except _InflationExceeded:
        raise PackageRejected([("size_bomb", f"inflates past {inflation_limit} bytes")]) from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise PackageRejected([("not_a_tar_gz", f"not a readable gzip'd tar: {exc}")]) from None
    name = version = ""
    requirements: tuple[str, ...] = ()
    if pkg_info is None:
        reasons.append(("no_metadata", "no PKG-INFO at the top of the sdist"))
    else:
        name, version, requirements, metadata_reasons = _parse_pkg_info(pkg_info, limits)
        reasons.extend(metadata_reasons)
    if entry is None:
        reasons.append(("no_entry_module", f"entry module {entry_module} ({module_suffix}) is missing"))
    else:
        reasons.extend(_check_entry_module(*entry))
    if reasons:
        raise PackageRejected(reasons)
    assert entry is not None
    return PackageInfo(
        name=name,
        version=version,
        sha256=hashlib.sha256(data).hexdigest(),
        size=size,
        entry_module_path=entry[0],
        requirements=requirements,
    )
