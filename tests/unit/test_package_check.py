"""Static validation of trainer packages: good ones pass, hostile or broken ones say why."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from shared.errors import PackageRejected
from shared.package_check import DEFAULT_LIMITS, PackageLimits, inspect_package
from tests.sdists import link, sdist

MODULE = "flexrun_trainer.task"


def reason_codes(data: bytes, limits: PackageLimits = DEFAULT_LIMITS) -> list[str]:
    with pytest.raises(PackageRejected) as caught:
        inspect_package(data, entry_module=MODULE, limits=limits)
    return [code for code, _ in caught.value.reasons]


def test_good_package_reports_name_version_and_sha256():
    data = sdist("1.2.3", requires=("pandas>=2", "pymongo"))
    info = inspect_package(data, entry_module=MODULE)
    assert (info.name, info.version) == ("flexrun-trainer", "1.2.3")
    assert info.entry_module_path.endswith("src/flexrun_trainer/task.py")
    assert len(info.sha256) == 64 and info.size == len(data)
    assert info.requirements == ("pandas>=2", "pymongo")


def test_random_bytes_are_not_a_tar_gz():
    assert reason_codes(b"\x00not a tarball at all") == ["not_a_tar_gz"]


def test_missing_entry_module_is_rejected():
    assert "no_entry_module" in reason_codes(sdist(task=None))


def test_entry_module_without_main_guard_is_rejected():
    assert "no_main_guard" in reason_codes(sdist(task=b"def main():\n    pass\n"))


def test_unconditional_main_call_is_rejected():
    source = b"def main():\n    pass\nmain()\nif __name__ == '__main__':\n    main()\n"
    assert reason_codes(sdist(task=source)) == ["unconditional_main"]


def test_entry_module_that_does_not_compile_is_rejected():
    assert reason_codes(sdist(task=b"def main(:\n")) == ["entry_module_syntax"]


@pytest.mark.parametrize(
    "member, code",
    [
        (("flexrun_trainer-0.1.0/../../etc/cron.d/evil", b"x"), "path_traversal"),
        (("/etc/passwd", b"x"), "absolute_path"),
        (link("flexrun_trainer-0.1.0/evil", "/etc/shadow"), "link_member"),
        (link("flexrun_trainer-0.1.0/hard", "flexrun_trainer-0.1.0/PKG-INFO", hard=True), "link_member"),
        (("flexrun_trainer-0.1.0/PKG-INFO", b"Name: x\nVersion: 9\n"), "duplicate_member"),
    ],
)
def test_hostile_members_are_rejected(member, code):
    assert code in reason_codes(sdist(extra=[member]))


def test_device_member_is_rejected():
    device = tarfile.TarInfo("flexrun_trainer-0.1.0/dev")
    device.type = tarfile.CHRTYPE
    assert "special_member" in reason_codes(sdist(extra=[device]))


def test_size_bomb_is_rejected_while_streaming():
    # 64 MiB of zeros compresses to ~64 KiB: far past the allowed inflation ratio.
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as archive:
        info = tarfile.TarInfo("flexrun_trainer-0.1.0/bomb.bin")
        info.size = 64 << 20
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    bomb = gzip.compress(payload.getvalue(), compresslevel=9)
    assert reason_codes(bomb, PackageLimits(max_ratio=50)) == ["size_bomb"]


def test_too_many_members_are_rejected():
    extra = [(f"flexrun_trainer-0.1.0/f{i}", b"") for i in range(20)]
    assert reason_codes(sdist(extra=extra), PackageLimits(max_members=10)) == ["too_many_members"]


def test_metadata_without_version_is_rejected():
    assert "metadata_incomplete" in reason_codes(sdist(metadata=b"Metadata-Version: 2.1\nName: x\n"))


def test_requirement_that_replaces_the_images_tensorflow_is_denied():
    assert reason_codes(sdist(requires=("tensorflow-cpu==2.15",))) == ["denied_requirement"]


def test_unparseable_requirement_is_rejected():
    assert reason_codes(sdist(requires=("pandas >>> 2",))) == ["bad_requirement"]


def test_every_reason_is_reported_at_once():
    codes = reason_codes(sdist(task=None, extra=[link("flexrun_trainer-0.1.0/l", "/x")]))
    assert {"no_entry_module", "link_member"} <= set(codes)
