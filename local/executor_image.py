"""local/executor-image.txt, derived from image/requirements.lock: the trainer image's pins, minus the GPU.

The executor venv (.venv-executor) stands in for the trainer image's Python environment. It must hold
the same distributions at the same versions, with two exceptions that only the GPU needs:
- `tensorflow` becomes `tensorflow-cpu` at the same version (the same TensorFlow build without CUDA
  kernels; ~250 MB instead of ~600 MB, and it does not look for a GPU);
- the `nvidia-*` CUDA wheels (several GB, useless without a GPU) are left out.

    python -m local.executor_image           # print what local/executor-image.txt must hold
    python -m local.executor_image --write   # rewrite it after changing the lock

tests/unit/test_image_parity.py fails when the file, the lock, the Dockerfile and the venv disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "image" / "requirements.lock"
EXECUTOR_IMAGE = REPO / "local" / "executor-image.txt"
CPU_SUBSTITUTES = {"tensorflow": "tensorflow-cpu"}
GPU_ONLY_PREFIX = "nvidia-"
HEADER = """\
# GENERATED from image/requirements.lock by `python -m local.executor_image --write`: do not edit.
# The local stand-in for the trainer image's Python environment (image/Dockerfile), i.e. what is
# installed before a run's package is: the image's pins with tensorflow -> tensorflow-cpu, no nvidia-*.
"""


def pins(lock_text: str) -> dict[str, str]:
    """`name==version` lines → {normalised name: version}; comments and blank lines skipped."""
    found = {}
    for line in lock_text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            found[name.strip().lower().replace("_", "-")] = version.strip()
    return found


def python_version(lock_text: str) -> str:
    for line in lock_text.splitlines():
        if line.startswith("# python-version:"):
            return line.split(":", 1)[1].strip()
    raise ValueError("the lock has no `# python-version:` line")


def derive(lock_text: str) -> str:
    lines = []
    for name, version in pins(lock_text).items():
        if name.startswith(GPU_ONLY_PREFIX):
            continue
        lines.append(f"{CPU_SUBSTITUTES.get(name, name)}=={version}")
    return HEADER + "\n".join(sorted(lines)) + "\n"


def main(argv: list[str]) -> None:
    text = derive(LOCK.read_text())
    if argv == ["--write"]:
        EXECUTOR_IMAGE.write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
