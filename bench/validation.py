"""Package validation: throughput against `tar -tzf` on the same file, and peak memory against size.

The package is ~100 MB of gzip'd tar with thousands of members, half random bytes, half source-like text,
so both inflation and per-member header parsing count. Memory is measured in child processes (peak RSS
from wait4), one per package size: flat means the 100 MB package needs no more than the 25 MB one.
"""

from __future__ import annotations

import io
import random
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from bench.measurement import Measurement, best_of, child_peak_rss_mib, timed
from shared.packages.safety import PackageLimits, examine_package
from tests.sdists import GOOD_TASK, pkg_info

REPO_ROOT = Path(__file__).resolve().parents[1]
ROOT = "flexrun_trainer-0.1.0"
MEMBER_BYTES = 32 << 10
LIMITS = PackageLimits(
    max_compressed_bytes=1 << 30, max_uncompressed_bytes=4 << 30, max_members=100_000, max_ratio=1000.0
)
CHILD = (
    "import sys\n"
    "from bench.validation import LIMITS\n"
    "from shared.packages.safety import examine_package\n"
    "with open(sys.argv[1], 'rb') as f:\n"
    "    result = examine_package(f, entry_module='flexrun_trainer.task', limits=LIMITS, size=int(sys.argv[2]))\n"
    "sys.exit(1 if result.info is None else 0)\n"
)


def build_package(path: Path, members: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(2, 12))) for _ in range(500)]
    with tarfile.open(path, mode="w:gz", compresslevel=6) as archive:
        for name, content in ((f"{ROOT}/PKG-INFO", pkg_info()), (f"{ROOT}/src/flexrun_trainer/task.py", GOOD_TASK)):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        for index in range(members):
            text = b" ".join(rng.choice(words) for _ in range(MEMBER_BYTES // 14))[: MEMBER_BYTES // 2]
            content = rng.randbytes(MEMBER_BYTES // 2) + text
            info = tarfile.TarInfo(f"{ROOT}/data/d{index // 100}/f{index}.bin")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path.stat().st_size


def _validate(path: Path, size: int) -> None:
    with path.open("rb") as handle:
        result = examine_package(handle, entry_module="flexrun_trainer.task", limits=LIMITS, size=size)
    if result.info is None:
        raise RuntimeError(f"the bench package was rejected: {result.reasons}")


def _tar_list(path: Path) -> None:
    subprocess.run(["tar", "-tzf", str(path)], check=True, stdout=subprocess.DEVNULL)


def run() -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="flexrun-bench-") as tmp:
        big, small = Path(tmp) / "big.tar.gz", Path(tmp) / "small.tar.gz"
        members = 4500
        big_size = build_package(big, members)
        small_size = build_package(small, members // 4)
        ours = best_of(3, lambda: timed(lambda: _validate(big, big_size)))
        tar = best_of(3, lambda: timed(lambda: _tar_list(big)))
        mb = big_size / 1e6
        rss = {}
        for label, path, size in (("big", big, big_size), ("small", small, small_size)):
            rss[label] = min(
                child_peak_rss_mib([sys.executable, "-c", CHILD, str(path), str(size)], cwd=REPO_ROOT)[1]
                for _ in range(2)
            )
    return [
        Measurement(
            name=f"validation throughput ({mb:.0f} MB, {members} members)",
            value=mb / ours,
            baseline_name="tar -tzf",
            baseline=mb / tar,
            unit="MB/s",
            goal=">= 0.5",
            note=f"validate {ours:.2f} s, tar -tzf {tar:.2f} s (best of 3)",
        ),
        Measurement(
            name=f"validation peak RSS, {mb:.0f} MB vs {small_size / 1e6:.0f} MB package",
            value=rss["big"],
            baseline_name="smaller package",
            baseline=rss["small"],
            unit="MiB",
            goal="<= 1.2",
            note="child process peak RSS (wait4); flat = ratio near 1",
        ),
    ]
