"""The trainer image's entry point: fetch a run's package, check it, install it under the image's pins, run it.

    python launcher.py --package-uri gs://BUCKET/deployable/SHA.tar.gz --package-sha256 SHA \
        --module flexrun_trainer.task [-- TRAINER ARGS...]

(each flag may come from FLEXRUN_PACKAGE_URI / FLEXRUN_PACKAGE_SHA256 / FLEXRUN_MODULE instead).

Why a launcher instead of Vertex's PythonPackageSpec: that spec only runs on Google's prebuilt images, and
the newest TensorFlow one is past its end of availability (google-facts.md, "Containers"). With our own
image a package upload still deploys a version without an image build: the launcher installs it at start.

The install can never change what the image ships:
- the package goes into a throwaway venv layered on the image's environment (a .pth line), so the image's
  site-packages are never written to (locally that environment is the shared executor venv);
- pip runs with requirements.lock as constraints, so a requirement that needs another version of a pinned
  distribution fails to resolve instead of replacing it;
- the visible distributions are compared before and after: anything the constraints do not pin (pip,
  setuptools, wheel) that was upgraded or shadowed anyway fails the job before the trainer runs.

Exit statuses (sysexits.h, so the failure classifier can tell them from the trainer's own):
64 bad arguments, 65 the package's sha256 differs from the manifest's, 69 the package could not be
fetched, 78 it could not be installed or would replace a shipped distribution. Otherwise the trainer's
own status: the launcher exec()s it, so signals reach the trainer directly.

Standard library only (plus what the image ships: google-cloud-storage for gs://, packaging to read build
requirements), so it runs on the image's interpreter before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

EX_USAGE, EX_DATAERR, EX_UNAVAILABLE, EX_CONFIG = 64, 65, 69, 78
LOCK = Path(__file__).with_name("requirements.lock")
_DISTRIBUTIONS = (
    "import importlib.metadata as m, json\n"
    "seen = {}\n"
    "for d in m.distributions():\n"
    "    name = (d.metadata['Name'] or '').lower().replace('_', '-')\n"
    "    seen.setdefault(name, d.version)  # the first on sys.path is the one an import gets\n"
    "print(json.dumps(seen))\n"
)


class LaunchError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def say(message: str) -> None:
    # Replica stdout/stderr is what Cloud Logging shows for the job: one plain line per step.
    print(f"flexrun-launcher: {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="launcher.py", description=__doc__.split("\n\n")[0])
    env = os.environ.get
    parser.add_argument("--package-uri", default=env("FLEXRUN_PACKAGE_URI"), help="gs://bucket/object of the sdist")
    parser.add_argument("--package-sha256", default=env("FLEXRUN_PACKAGE_SHA256"), help="the manifest entry's sha256")
    parser.add_argument("--module", default=env("FLEXRUN_MODULE"), help="run as `python -m MODULE ARGS`")
    parser.add_argument("--constraints", type=Path, default=LOCK, help="the image's pins (requirements.lock)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the venv goes (default: a temp dir)")
    parser.add_argument("trainer_args", nargs=argparse.REMAINDER, help="after --: the trainer's arguments")
    args = parser.parse_args(argv)
    if args.trainer_args[:1] == ["--"]:
        args.trainer_args = args.trainer_args[1:]
    missing = [flag for flag in ("package_uri", "package_sha256", "module") if not getattr(args, flag)]
    if missing:
        raise LaunchError(EX_USAGE, "missing " + ", ".join("--" + m.replace("_", "-") for m in missing))
    return args


def fetch(uri: str, target: Path) -> Path:
    """Download gs://BUCKET/OBJECT as the job's service account (locally: the GCS emulator)."""
    if not uri.startswith("gs://") or "/" not in uri[5:]:
        raise LaunchError(EX_USAGE, f"package URI {uri!r} is not gs://bucket/object")
    from google.cloud import storage

    bucket, name = uri[5:].split("/", 1)
    credentials = None
    if os.environ.get("STORAGE_EMULATOR_HOST"):  # the local fake-gcs-server takes no credentials
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    client = storage.Client(project=os.environ.get("CLOUD_ML_PROJECT_ID"), credentials=credentials)
    path = target / Path(name).name
    try:
        client.bucket(bucket).blob(name).download_to_filename(str(path))
    except Exception as error:
        raise LaunchError(EX_UNAVAILABLE, f"downloading {uri} failed: {error!r}") from error
    return path


def verify(path: Path, expected_sha256: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected_sha256.lower():
        raise LaunchError(
            EX_DATAERR,
            f"{path.name}: sha256 {digest.hexdigest()} is not the manifest's {expected_sha256}: refusing to install it",
        )


def distributions(python: Path) -> dict[str, str]:
    out = subprocess.run([str(python), "-c", _DISTRIBUTIONS], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def layered_venv(target: Path) -> Path:
    """A venv whose imports fall through to this interpreter's site-packages; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    code = "import sysconfig, json; print(json.dumps([sysconfig.get_path('purelib'), sysconfig.get_path('platlib')]))"
    own = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    site = json.loads(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout)[0]
    # addsitedir, not a bare path line: the image's own .pth files must be honoured too.
    lines = "".join(f"import site; site.addsitedir({path!r})\n" for path in dict.fromkeys(own))
    Path(site, "_flexrun_image.pth").write_text(lines)
    return python


# pip's default when an sdist names no [build-system] (PEP 518).
_DEFAULT_BUILD_REQUIRES = ["setuptools>=40.8.0"]


def build_requires(package: Path) -> list[str]:
    """The sdist's `[build-system] requires` (pyproject.toml at the top of its one root folder)."""
    with tarfile.open(package) as archive:
        member = next(
            (m for m in archive.getmembers() if m.name.count("/") == 1 and m.name.endswith("/pyproject.toml")), None
        )
        reader = archive.extractfile(member) if member is not None else None
        if reader is None:
            return list(_DEFAULT_BUILD_REQUIRES)
        try:
            system = tomllib.loads(reader.read().decode("utf-8")).get("build-system", {})
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            return list(_DEFAULT_BUILD_REQUIRES)  # pip's own build then says what is wrong with it
    return list(system.get("requires", _DEFAULT_BUILD_REQUIRES)) if isinstance(system, dict) else []


def image_satisfies(requirements: list[str]) -> bool:
    """Whether this interpreter's distributions (the image's) meet every requirement."""
    import importlib.metadata

    from packaging.requirements import InvalidRequirement, Requirement

    for line in requirements:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            return False
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return False
        if not requirement.specifier.contains(installed, prereleases=True):
            return False
    return True


def install(python: Path, package: Path, constraints: Path) -> None:
    before = distributions(python)
    command = [
        sys.executable, "-m", "pip", "--python", str(python), "install",
        "--no-input", "--disable-pip-version-check", "--constraint", str(constraints), str(package),
    ]  # fmt: skip
    # Building the sdist in an isolated environment makes pip download and install its build backend
    # (setuptools) into a throwaway venv first: ~10 s of every job's start. The image ships a pinned
    # setuptools, so when it meets the package's build requirements the build uses it in place; any
    # other backend (or version) still gets pip's isolated build.
    if image_satisfies(build_requires(package)):
        command.insert(command.index("install") + 1, "--no-build-isolation")
    say("installing " + package.name + " with the image's pins as constraints")
    if subprocess.run(command, stdin=subprocess.DEVNULL).returncode != 0:
        raise LaunchError(EX_CONFIG, f"installing {package.name} failed (see pip's output above)")
    after = distributions(python)
    changed = sorted(f"{name} {was} -> {after.get(name)}" for name, was in before.items() if after.get(name) != was)
    if changed:
        raise LaunchError(EX_CONFIG, f"{package.name} would replace what the image ships: {', '.join(changed)}")


def launch(argv: Sequence[str]) -> tuple[Path, list[str]]:
    """Everything but the exec: returns the venv's python and the argv to exec."""
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flexrun-run-"))
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"fetching {args.package_uri}")
    package = fetch(args.package_uri, workdir)
    verify(package, args.package_sha256)
    python = layered_venv(workdir / "venv")
    install(python, package, args.constraints)
    return python, [str(python), "-m", args.module, *args.trainer_args]


def main(argv: Sequence[str] | None = None) -> None:
    try:
        python, command = launch(sys.argv[1:] if argv is None else argv)
    except LaunchError as error:
        say(f"error: {error}")
        sys.exit(error.status)
    say("running python -m " + " ".join(command[2:]))
    os.environ["PATH"] = f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    sys.stdout.flush()
    os.execv(str(python), command)


if __name__ == "__main__":
    main()
