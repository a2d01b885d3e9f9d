"""Validation predicts the install: every file pip builds from is read and must agree, requirements are
checked against the image's pins, and members that break unpacking or run code at start are refused."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from shared.errors import PackageRejected
from shared.packages.pins import FALLBACK_FILE, LOCK_FILE, REPO_ROOT, load_pins, parse_pins
from shared.packages.safety import examine_package, inspect_package
from tests.sdists import GOOD_TASK, gzip_tar, pkg_info, sdist

MODULE = "flexrun_trainer.task"
ROOT = "flexrun_trainer-0.1.0"
TASK = f"{ROOT}/src/flexrun_trainer/task.py"
PINS = parse_pins(["# python-version: 3.11", "numpy==1.26.4", "tensorflow==2.17.0", "protobuf==4.25.3"], "test pins")


def codes(data: bytes) -> list[str]:
    with pytest.raises(PackageRejected) as caught:
        inspect_package(data, entry_module=MODULE, pins=PINS)
    return [code for code, _ in caught.value.reasons]


def pyproject(
    dependencies: str = "", *, version: str = "0.1.0", name: str = "flexrun-trainer", extra: str = ""
) -> bytes:
    body = f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{dependencies}]\n{extra}'
    return body.encode()


def with_files(*files: tuple[str, bytes], requires: tuple[str, ...] = ()) -> bytes:
    """The good sdist (PKG-INFO + module) plus these top-level files."""
    return sdist(requires=requires, extra=[(f"{ROOT}/{name}", content) for name, content in files])


def _long_path() -> bytes:
    return sdist(extra=[(f"{ROOT}/" + "/".join(["d" * 200] * 25) + "/x.py", b"")])


def _member(name: str) -> bytes:
    return sdist(extra=[(name, b"import os\n")])


SETUP = b"from setuptools import setup\n"
CORPUS: dict[str, tuple[object, str]] = {
    # what pip builds from, not only PKG-INFO
    "denied tensorflow-cpu in pyproject.toml only": (
        lambda: with_files(("pyproject.toml", pyproject('"tensorflow-cpu==2.15"'))),
        "denied_requirement",
    ),
    "pyproject.toml adds a requirement PKG-INFO lacks": (
        lambda: with_files(("pyproject.toml", pyproject('"numpy"'))),
        "metadata_conflict",
    ),
    "requirement not PEP 508 in pyproject.toml": (
        lambda: with_files(("pyproject.toml", pyproject('"pandas >>> 2"'))),
        "bad_requirement",
    ),
    "denied requirement in an optional extra": (
        lambda: with_files(
            ("pyproject.toml", pyproject(extra='[project.optional-dependencies]\ncpu = ["tensorflow-cpu"]\n'))
        ),
        "denied_requirement",
    ),
    "names disagree": (lambda: with_files(("pyproject.toml", pyproject(name="other-trainer"))), "metadata_conflict"),
    "setup.cfg says another version": (
        lambda: with_files(("setup.cfg", b"[metadata]\nname = flexrun-trainer\nversion = 0.2.0\n")),
        "metadata_conflict",
    ),
    "setup.cfg installs what PKG-INFO does not": (
        lambda: with_files(("setup.cfg", b"[options]\ninstall_requires =\n    tensorflow-cpu\n")),
        "denied_requirement",
    ),
    "setup.cfg not INI": (lambda: with_files(("setup.cfg", b"[metadata\nname")), "bad_metadata"),
    "setup.cfg version read from the code": (
        lambda: with_files(("setup.cfg", b"[metadata]\nversion = attr: flexrun_trainer.__version__\n")),
        "dynamic_metadata",
    ),
    "setup.py installs what PKG-INFO does not": (
        lambda: with_files(("setup.py", SETUP + b"setup(install_requires=['pymongo'])\n")),
        "metadata_conflict",
    ),
    "setup.py computes its requirements": (
        lambda: with_files(("setup.py", SETUP + b"setup(install_requires=open('r.txt').read().split())\n")),
        "dynamic_metadata",
    ),
    "setup.py passes **options": (lambda: with_files(("setup.py", SETUP + b"setup(**OPTIONS)\n")), "dynamic_metadata"),
    "poetry metadata outside [project]": (
        lambda: with_files(
            (
                "pyproject.toml",
                b'[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n'
                b'[tool.poetry]\nname = "flexrun-trainer"\nversion = "0.1.0"\n'
                b'[tool.poetry.dependencies]\ntensorflow-cpu = "*"\n',
            )
        ),
        "unchecked_build_backend",
    ),
    "name not a distribution name": (lambda: sdist(metadata=pkg_info(name="-bad name-")), "bad_name"),
    # the image's pins
    "requirement excludes the image's numpy": (lambda: sdist(requires=("numpy<1.20",)), "pin_conflict"),
    "requirement asks for another TensorFlow": (lambda: sdist(requires=("tensorflow>=2.18",)), "pin_conflict"),
    "direct URL for a pinned package": (
        lambda: sdist(requires=("protobuf @ https://example.invalid/protobuf-7.0.tar.gz",)),
        "pin_conflict",
    ),
    "the package takes the name of a pinned distribution": (
        lambda: sdist(metadata=pkg_info(name="NumPy")),
        "pin_conflict",
    ),
    # the image's Python
    "PKG-INFO requires a newer Python": (
        lambda: sdist(metadata=pkg_info().replace(b"Version: 0.1.0\n", b"Version: 0.1.0\nRequires-Python: >=3.12\n")),
        "python_mismatch",
    ),
    "pyproject.toml requires an older Python": (
        lambda: with_files(("pyproject.toml", pyproject(extra='requires-python = "<3.11"\n'))),
        "python_mismatch",
    ),
    "setup.py python_requires not a specifier": (
        lambda: with_files(("setup.py", SETUP + b"setup(python_requires='three or more')\n")),
        "bad_metadata",
    ),
    # members that run code at interpreter start
    ".pth file": (lambda: _member(f"{ROOT}/src/evil.pth"), "startup_hook"),
    ".pth file, other case": (lambda: _member(f"{ROOT}/EVIL.PTH"), "startup_hook"),
    "sitecustomize.py": (lambda: _member(f"{ROOT}/src/sitecustomize.py"), "startup_hook"),
    "usercustomize.py": (lambda: _member(f"{ROOT}/usercustomize.py"), "startup_hook"),
    "sitecustomize as a package": (lambda: _member(f"{ROOT}/src/sitecustomize/__init__.py"), "startup_hook"),
    "sourceless sitecustomize.pyc": (lambda: _member(f"{ROOT}/src/SiteCustomize.pyc"), "startup_hook"),
    "usercustomize extension module": (
        lambda: _member(f"{ROOT}/usercustomize.cpython-311-x86_64-linux-gnu.so"),
        "startup_hook",
    ),
    # names the filesystem cannot hold, or merges
    "component over 255 bytes": (lambda: _member(f"{ROOT}/{'a' * 256}.py"), "name_too_long"),
    "component over 255 bytes in UTF-8": (lambda: _member(f"{ROOT}/{'é' * 128}"), "name_too_long"),
    "path over 4096 bytes": (_long_path, "name_too_long"),
    "two files differ only in case": (lambda: _member(f"{ROOT}/src/flexrun_trainer/Task.py"), "case_conflict"),
    "a directory differs only in case": (lambda: _member(f"{ROOT}/SRC/other.py"), "case_conflict"),
    # the declared entry module
    "declared entry module missing": (
        lambda: with_files(("pyproject.toml", pyproject(extra='[tool.flexrun]\nentry-module = "nowhere.task"\n'))),
        "no_entry_module",
    ),
    "declared entry module is a path": (
        lambda: with_files(("pyproject.toml", pyproject(extra='[tool.flexrun]\nentry-module = "../../etc"\n'))),
        "bad_entry_module",
    ),
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_package_that_would_not_install_or_unpack_cleanly_is_rejected_with_its_reason(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make, code = CORPUS[case]
    assert code in codes(make())  # type: ignore[operator]
    assert list(tmp_path.iterdir()) == []


def test_files_that_agree_with_each_other_and_the_pins_are_accepted():
    requires = ("numpy>=1.23", "pandas>=1.5; python_version >= '3.8'")
    data = with_files(
        ("pyproject.toml", pyproject('"NumPy >= 1.23", "pandas>=1.5; python_version >= \'3.8\'"', version="0.1")),
        ("setup.cfg", b"[egg_info]\ntag_build =\n"),
        ("setup.py", SETUP + b"setup()\n"),
        requires=requires,
    )
    info = inspect_package(data, entry_module=MODULE, pins=PINS)
    assert (info.name, info.version, info.requirements) == ("flexrun-trainer", "0.1.0", requires)


def test_requirements_a_plain_install_never_installs_are_not_checked_against_the_pins():
    requires = ('tensorflow<2; extra == "old"', "numpy<1; python_version < '3'")
    assert inspect_package(sdist(requires=requires), entry_module=MODULE, pins=PINS).version == "0.1.0"


def test_a_requires_python_any_patch_of_the_image_python_meets_is_accepted():
    for spec in (b">=3.11.4", b">=3.10,<4", b"~=3.11"):
        metadata = pkg_info().replace(b"Version: 0.1.0\n", b"Version: 0.1.0\nRequires-Python: " + spec + b"\n")
        assert inspect_package(sdist(metadata=metadata), entry_module=MODULE, pins=PINS).version == "0.1.0"


def test_markers_are_evaluated_for_the_image_python_the_lock_file_names():
    image = parse_pins(["# python-version: 3.9", "numpy==1.26.4"], "lock")
    assert image.python_version == "3.9"
    conflicting_there = sdist(requires=("numpy<1; python_version < '3.10'",))
    with pytest.raises(PackageRejected, match="pin_conflict"):
        inspect_package(conflicting_there, entry_module=MODULE, pins=image)


def test_declared_entry_module_is_found_whatever_the_member_order():
    task = ("my_script/task.py", GOOD_TASK)
    declared = pyproject(extra='[tool.flexrun]\nentry-module = "my_script.task"\n')
    for order in ([task, ("pyproject.toml", declared)], [("pyproject.toml", declared), task]):
        data = gzip_tar([(f"{ROOT}/{name}", content) for name, content in order])
        info = inspect_package(data, entry_module=MODULE, pins=PINS)
        assert (info.entry_module, info.entry_module_path) == ("my_script.task", f"{ROOT}/my_script/task.py")


def test_an_identical_spelling_twice_is_a_duplicate_not_a_case_conflict():
    assert codes(sdist(extra=[(TASK, GOOD_TASK)])) == ["duplicate_member"]


def test_pins_are_the_exact_versions_of_a_lock_file(tmp_path: Path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "# built from image/requirements.in\n--index-url https://pypi.org/simple\n"
        "NumPy==1.26.4 \\\n    --hash=sha256:abc\nprotobuf==4.25.3  # under TensorFlow\n"
        "pandas>=2\nscipy===1.11.0\nbroken==\n"
    )
    pins = load_pins(lock)
    assert {str(k): str(v) for k, v in pins.versions.items()} == {
        "numpy": "1.26.4",
        "protobuf": "4.25.3",
        "scipy": "1.11.0",
    }
    assert pins.source == str(lock)


def test_the_image_lock_file_is_read_when_there_else_the_local_image_list():
    pins = load_pins()
    expected = LOCK_FILE if (REPO_ROOT / LOCK_FILE).is_file() else FALLBACK_FILE
    assert pins.source == str(expected)


def test_rejection_lists_every_new_reason_at_once():
    data = with_files(
        ("pyproject.toml", pyproject('"tensorflow-cpu"')), ("src/x.pth", b"import os\n"), requires=("numpy<1",)
    )
    inspection = examine_package(io.BytesIO(data), entry_module=MODULE, pins=PINS)
    assert {"denied_requirement", "metadata_conflict", "startup_hook", "pin_conflict"} <= {
        c for c, _ in inspection.reasons
    }


def test_directory_members_take_part_in_case_checks():
    directory = tarfile.TarInfo(f"{ROOT}/Src")
    directory.type = tarfile.DIRTYPE
    assert "case_conflict" in codes(sdist(extra=[directory]))
