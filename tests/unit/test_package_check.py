"""Static validation of trainer packages: good ones pass; a corpus of hostile or broken ones each says why.

Nothing in a package is ever run: the marker test proves it, and the whole corpus is read from an empty
working directory that is still empty afterwards.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from shared.errors import PackageRejected
from shared.packages.pins import NO_PINS
from shared.packages.safety import DEFAULT_LIMITS, PackageLimits, examine_package, inspect_package
from tests.sdists import (
    GOOD_TASK,
    gzip_tar,
    link,
    marker_package,
    member_count_bomb,
    pax_header_bomb,
    pkg_info,
    sdist,
    size_bomb,
    special,
)

MODULE = "flexrun_trainer.task"
ROOT = "flexrun_trainer-0.1.0"


def reason_codes(data: bytes, limits: PackageLimits = DEFAULT_LIMITS) -> list[str]:
    with pytest.raises(PackageRejected) as caught:
        inspect_package(data, entry_module=MODULE, limits=limits, pins=NO_PINS)
    return [code for code, _ in caught.value.reasons]


def _setuid() -> tarfile.TarInfo:
    info = tarfile.TarInfo(f"{ROOT}/run.sh")
    info.mode = 0o4755
    return info


def _truncated() -> bytes:
    data = sdist(extra=[(f"{ROOT}/data.bin", bytes(range(256)) * 400)])
    return data[: len(data) // 2]


def _corrupt() -> bytes:
    data = bytearray(sdist(extra=[(f"{ROOT}/data.bin", bytes(range(256)) * 400)]))
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    return bytes(data)


def _pyproject(body: str, *, setup: bytes | None = None) -> bytes:
    files = [(f"{ROOT}/pyproject.toml", body.encode()), (f"{ROOT}/src/flexrun_trainer/task.py", GOOD_TASK)]
    if setup is not None:
        files.append((f"{ROOT}/setup.py", setup))
    return gzip_tar(files)


CORPUS: dict[str, tuple[bytes | object, str]] = {
    # the container
    "random bytes": (b"\x00not a tarball at all" * 10, "not_gzip"),
    "empty object": (b"", "not_gzip"),
    "plain tar, not gzip'd": (lambda: gzip.decompress(sdist()), "not_gzip"),
    "truncated gzip": (_truncated, "truncated"),
    "corrupt gzip": (_corrupt, "corrupt_gzip"),
    "gzip'd text, not a tar": (lambda: gzip.compress(b"hello, I am not a tar archive\n" * 50), "not_a_tar"),
    "trailing garbage after gzip": (lambda: sdist() + b"garbage that is not gzip", "corrupt_gzip"),
    # sizes
    "10 GB-uncompressed bomb": (size_bomb, "size_bomb"),
    "member-count bomb": (member_count_bomb, "too_many_members"),
    "pax header claiming 64 MiB": (pax_header_bomb, "bad_header"),
    "entry module over the text limit": (lambda: sdist(task=GOOD_TASK + b"#" * (2 << 20)), "file_too_large"),
    # members (tarfile data-filter rules, and stricter)
    "path traversal": (lambda: sdist(extra=[(f"{ROOT}/../../etc/cron.d/evil", b"x")]), "path_traversal"),
    "backslash traversal": (lambda: sdist(extra=[(f"{ROOT}\\..\\..\\evil", b"x")]), "path_traversal"),
    "absolute path": (lambda: sdist(extra=[("/etc/passwd", b"x")]), "absolute_path"),
    "drive-letter path": (lambda: sdist(extra=[("C:/Windows/evil.dll", b"x")]), "absolute_path"),
    "symlink escape": (lambda: sdist(extra=[link(f"{ROOT}/steal", "/etc/shadow")]), "symlink_member"),
    "relative symlink up": (lambda: sdist(extra=[link(f"{ROOT}/up", "../../..")]), "symlink_member"),
    "hardlink": (lambda: sdist(extra=[link(f"{ROOT}/hard", f"{ROOT}/PKG-INFO", hard=True)]), "hardlink_member"),
    "hardlink outside": (lambda: sdist(extra=[link(f"{ROOT}/h", "/etc/passwd", hard=True)]), "hardlink_member"),
    "character device": (lambda: sdist(extra=[special(f"{ROOT}/tty", tarfile.CHRTYPE)]), "special_member"),
    "block device": (lambda: sdist(extra=[special(f"{ROOT}/sda", tarfile.BLKTYPE)]), "special_member"),
    "fifo": (lambda: sdist(extra=[special(f"{ROOT}/pipe", tarfile.FIFOTYPE)]), "special_member"),
    "setuid file": (lambda: sdist(extra=[_setuid()]), "unsafe_mode"),
    "duplicate member": (lambda: sdist(extra=[(f"{ROOT}/PKG-INFO", b"Name: x\nVersion: 9\n")]), "duplicate_member"),
    "duplicate after normalising": (lambda: sdist(extra=[(f"{ROOT}/./PKG-INFO", pkg_info())]), "duplicate_member"),
    # the entry module
    "missing entry module": (lambda: sdist(task=None), "no_entry_module"),
    "syntax error": (lambda: sdist(task=b"def main(:\n"), "entry_module_syntax"),
    "nesting too deep to compile": (lambda: sdist(task=b"x = " + b"(" * 5000 + b")" * 5000), "entry_module_syntax"),
    "no main guard": (lambda: sdist(task=b"def main():\n    pass\n"), "no_main_guard"),
    "guard on something else": (
        lambda: sdist(task=b"def main():\n    pass\nif __name__:\n    main()\n"),
        "no_main_guard",
    ),
    "unconditional main()": (
        lambda: sdist(task=b"def main():\n    pass\nmain()\nif __name__ == '__main__':\n    main()\n"),
        "unconditional_main",
    ),
    "unconditional sys.exit(main())": (
        lambda: sdist(
            task=b"import sys\ndef main():\n    return 0\nsys.exit(main())\nif __name__ == '__main__':\n    pass\n"
        ),
        "unconditional_main",
    ),
    "main() in the guard's else": (
        lambda: sdist(task=b"def main():\n    pass\nif __name__ == '__main__':\n    pass\nelse:\n    main()\n"),
        "unconditional_main",
    ),
    # metadata
    "no metadata at all": (lambda: gzip_tar([(f"{ROOT}/src/flexrun_trainer/task.py", GOOD_TASK)]), "no_metadata"),
    "PKG-INFO without version": (lambda: sdist(metadata=b"Metadata-Version: 2.1\nName: x\n"), "metadata_incomplete"),
    "version not PEP 440": (lambda: sdist(metadata=pkg_info(version="one.two")), "bad_version"),
    "pyproject not TOML": (lambda: _pyproject("[project\nname = "), "bad_metadata"),
    "dynamic version, computed in setup.py": (
        lambda: _pyproject(
            '[project]\nname = "t"\ndynamic = ["version"]\n',
            setup=b"from setuptools import setup\nsetup(name='t', version=open('V').read())\n",
        ),
        "metadata_incomplete",
    ),
    "PKG-INFO and pyproject disagree": (
        lambda: sdist(extra=[(f"{ROOT}/pyproject.toml", b'[project]\nname = "flexrun-trainer"\nversion = "0.2.0"\n')]),
        "metadata_conflict",
    ),
    # requirements
    "requirement not PEP 508": (lambda: sdist(requires=("pandas >>> 2",)), "bad_requirement"),
    "requirement replaces the image's TensorFlow": (
        lambda: sdist(requires=("tensorflow-cpu==2.15",)),
        "denied_requirement",
    ),
    "denied requirement, other spelling": (lambda: sdist(requires=("TF_Nightly>=2",)), "denied_requirement"),
}


def _bytes(case: bytes | object) -> bytes:
    return case if isinstance(case, bytes) else case()  # type: ignore[operator]


def test_the_corpus_holds_at_least_thirty_hostile_or_broken_packages():
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("case", list(CORPUS))
def test_hostile_or_broken_package_is_rejected_with_its_reason(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a validator that unpacked anything would leave it here
    data, code = CORPUS[case]
    assert code in reason_codes(_bytes(data))
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent / "evil").exists()


def test_good_package_reports_name_version_and_sha256():
    data = sdist("1.2.3", requires=("pandas>=2", "pymongo"))
    info = inspect_package(data, entry_module=MODULE, pins=NO_PINS)
    assert (info.name, info.version, info.metadata_source) == ("flexrun-trainer", "1.2.3", "PKG-INFO")
    assert info.entry_module_path.endswith("src/flexrun_trainer/task.py")
    assert info.sha256 == __import__("hashlib").sha256(data).hexdigest() and info.size == len(data)
    assert info.requirements == ("pandas>=2", "pymongo")


def test_metadata_is_read_from_pyproject_or_setup_py_when_there_is_no_pkg_info():
    from_pyproject = _pyproject('[project]\nname = "t"\nversion = "2.0"\ndependencies = ["numpy<3"]\n')
    info = inspect_package(from_pyproject, entry_module=MODULE)
    assert (info.version, info.requirements, info.metadata_source) == ("2.0", ("numpy<3",), "pyproject.toml")
    setup = b"from setuptools import setup\nsetup(name='t', version='3.1', install_requires=['pandas'])\n"
    info = inspect_package(_pyproject('[build-system]\nrequires = ["setuptools"]\n', setup=setup), entry_module=MODULE)
    assert (info.version, info.requirements, info.metadata_source) == ("3.1", ("pandas",), "setup.py")


def test_package_whose_code_would_write_a_marker_is_validated_without_running_it(tmp_path, monkeypatch):
    marker = tmp_path / "executed.marker"
    monkeypatch.chdir(tmp_path)
    info = inspect_package(marker_package(str(marker)), entry_module=MODULE)
    assert info.version == "0.1.0"  # valid: top-level side effects are allowed, running them is not ours to do
    assert not marker.exists()


def test_size_bomb_is_refused_after_reading_a_small_part_of_it():
    bomb = size_bomb()
    inspection = examine_package(bomb, entry_module=MODULE)
    assert [code for code, _ in inspection.reasons] == ["size_bomb"]
    assert inspection.inflated_bytes <= DEFAULT_LIMITS.max_uncompressed_bytes + (1 << 20)
    assert inspection.compressed_bytes < len(bomb) / 4  # stopped while streaming, not at the end


def test_inflation_ratio_is_relative_to_the_declared_size():
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as archive:
        info = tarfile.TarInfo(f"{ROOT}/zeros.bin")
        info.size = 8 << 20
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    bomb = gzip.compress(payload.getvalue(), compresslevel=9)
    assert reason_codes(bomb, PackageLimits(max_ratio=50)) == ["size_bomb"]


def test_too_large_compressed_package_is_refused_before_reading():
    data = sdist()
    inspection = examine_package(
        io.BytesIO(data), entry_module=MODULE, size=len(data), limits=PackageLimits(max_compressed_bytes=100)
    )
    assert [code for code, _ in inspection.reasons] == ["too_large"] and inspection.compressed_bytes == 0


def test_every_reason_is_reported_at_once():
    codes = reason_codes(sdist(task=None, extra=[link(f"{ROOT}/l", "/x")], requires=("tensorflow-gpu",)))
    assert {"no_entry_module", "symlink_member", "denied_requirement"} <= set(codes)


@pytest.mark.parametrize(
    "member",
    [
        tarfile.TarInfo(f"{ROOT}/../../escape"),
        link(f"{ROOT}/steal", "/etc/shadow"),
        link(f"{ROOT}/up", "../../../etc"),
        special(f"{ROOT}/tty", tarfile.CHRTYPE),
        special(f"{ROOT}/pipe", tarfile.FIFOTYPE),
    ],
    ids=["traversal", "absolute-link", "escaping-link", "device", "fifo"],
)
def test_what_the_tarfile_data_filter_refuses_is_refused_here_too(member, tmp_path: Path):
    with pytest.raises(tarfile.FilterError):
        tarfile.data_filter(member, str(tmp_path))
    assert reason_codes(sdist(extra=[member]))
