"""Per-package virtual environments layered on the executor venv, cached by content hash.

Vertex runs a PythonPackageSpec by `pip install`ing the package into its prebuilt TensorFlow
image. Here the executor venv (`--executor-python`) stands in for that image: each package
gets its own venv whose site-packages chain to the executor's, so pip sees TensorFlow & co.
as already installed and adds only what the package brings. The venv is keyed by the sha256
of the package files, so an unchanged package reuses its venv and two jobs with the same
package never build it twice (a file lock serialises them, a marker file says "complete").
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

_READY = ".flexrun-ready"


class InstallFailed(Exception):
    """The package could not be installed; `output` holds pip's last lines."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


@dataclass(frozen=True)
class Environment:
    path: Path
    key: str
    reused: bool

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def digest(files: list[Path]) -> str:
    total = hashlib.sha256()
    for file in files:
        total.update(hashlib.sha256(file.read_bytes()).hexdigest().encode())
    return total.hexdigest()


class EnvironmentCache:
    def __init__(self, root: Path, executor_python: Path) -> None:
        self._root = root
        self._executor = executor_python
        self._root.mkdir(parents=True, exist_ok=True)
        self._executor_site: str | None = None
        self._installing: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False

    @property
    def executor(self) -> Path:
        """The executor venv's python: the stand-in for the image's interpreter."""
        return self._executor

    def ensure(self, packages: list[Path], log_file: Path) -> Environment:
        """Return the venv for these package files, building it (pip output to `log_file`) if new."""
        key = digest(packages)[:16]
        target = self._root / key
        with open(self._root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if (target / _READY).exists():
                return Environment(target, key, reused=True)
            shutil.rmtree(target, ignore_errors=True)  # a half-built one from a crash
            try:
                self._build(target, packages, log_file)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            (target / _READY).write_text("\n".join(str(p.name) for p in packages) + "\n")
            return Environment(target, key, reused=False)

    def _build(self, target: Path, packages: list[Path], log_file: Path) -> None:
        # `venv` run by a venv's interpreter builds on the base interpreter, not a nested venv.
        # No pip inside: the executor's pip installs into it with `--python` (saves ~3 s).
        self._run([str(self._executor), "-m", "venv", "--without-pip", str(target)], log_file)
        site = Path(self._purelib(target / "bin" / "python"))
        # addsitedir (not a bare path line) so the executor's own .pth files are honoured too.
        (site / "_flexrun_executor.pth").write_text(f"import site; site.addsitedir({self._site()!r})\n")
        pip = [str(self._executor), "-m", "pip", "--python", str(target / "bin" / "python")]
        self._run([*pip, "install", "--no-input", "--disable-pip-version-check", *map(str, packages)], log_file)

    def _site(self) -> str:
        if self._executor_site is None:
            self._executor_site = self._purelib(self._executor)
        return self._executor_site

    @staticmethod
    def _purelib(python: Path) -> str:
        code = "import sysconfig; print(sysconfig.get_path('purelib'))"
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def close(self) -> None:
        """Service stopping: stop running installs (the half-built venv is rebuilt next time)."""
        with self._lock:
            self._closed = True
            running = list(self._installing)
        for process in running:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # pip --python runs a second interpreter
            except ProcessLookupError:
                pass

    def _run(self, command: list[str], log_file: Path) -> None:
        with open(log_file, "a") as log:
            log.write("Running command: " + " ".join(command) + "\n")
            log.flush()
            with self._lock:
                if self._closed:
                    raise InstallFailed("the service is stopping", "")
                process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
                )
                self._installing.add(process)
            try:
                returncode = process.wait()
            finally:
                with self._lock:
                    self._installing.discard(process)
        if returncode != 0:
            tail = "".join(log_file.read_text(errors="replace").splitlines(keepends=True)[-15:])
            step = " ".join([Path(command[0]).name, *command[1:3]])
            raise InstallFailed(f"{step} exited with status {returncode}", tail)
