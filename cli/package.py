"""`flexrun package ...`: build, upload (with a progress bar, waiting for the verdict), list, show, pin,
unpin and rollback. Every manifest change goes through the same generation-checked update the validate
function uses, so a pin never overwrites a validation that landed in between."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import click

from cli.target import DEFAULT_ENV_FILE, Target, load_target
from shared.packages.manifest import Manifest, ManifestEntry, ManifestOperationRefused, VersionStatus
from shared.packages.validate_package import ALLOW_OLDER_KEY

RESUMABLE_THRESHOLD = 8 << 20  # above this, a resumable upload in chunks (resumes after a network blip)


@click.group()
@click.option(
    "--env-file",
    default=DEFAULT_ENV_FILE,
    envvar="FLEXRUN_ENV_FILE",
    show_default=True,
    help="Settings of the local cloud; used when the file exists. '' = use the environment only (production).",
)
@click.pass_context
def package(ctx: click.Context, env_file: str) -> None:
    """Trainer packages: upload one to deploy it, pin or roll back what runs."""
    ctx.obj = env_file


def _target(ctx: click.Context) -> Target:
    target = load_target(ctx.find_object(str))
    click.echo(f"target: {target.description}, bucket {target.settings.gcp_bucket_name}", err=True)
    return target


@package.command()
@click.argument("source", default="trainer", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--outdir", default="dist", type=click.Path(file_okay=False, path_type=Path), show_default=True)
@click.option("--module", default="flexrun_trainer.task", show_default=True, help="The entry module Vertex runs.")
def build(source: Path, outdir: Path, module: str) -> None:
    """Build the sdist of SOURCE (default: trainer/) with `python -m build --sdist`, then check it.

    The check is the validate function's own static one (metadata, entry module compiles, module guard,
    no import-time main(), requirements), so a package that would be rejected never leaves the laptop.
    """
    from cli.sdist import build_sdist

    built = build_sdist(source, outdir)
    _check_built(built, module)
    click.echo(str(built))


def _check_built(path: Path, module: str) -> None:
    from shared.errors import PackageRejected
    from shared.packages.safety import inspect_package

    try:
        info = inspect_package(path.read_bytes(), entry_module=module)
    except PackageRejected as rejected:
        reasons = "\n".join(f"  {code}: {message}" for code, message in rejected.reasons)
        raise click.ClickException(f"{path.name} would be rejected on upload:\n{reasons}") from None
    click.echo(f"checked {info.name} {info.version}: entry module {module} compiles and is guarded", err=True)


@package.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Object name under the packages prefix (default: the file's name).")
@click.option("--uploader", default=getpass.getuser, show_default="your user name", help="Recorded as uploader.")
@click.option("--allow-older", is_flag=True, help=f"Accept a version not newer than the newest ({ALLOW_OLDER_KEY}).")
@click.option("--wait/--no-wait", default=False, help="Wait for the validation verdict and print it.")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds --wait waits.")
@click.pass_context
def upload(
    ctx: click.Context, path: Path, name: str | None, uploader: str, allow_older: bool, wait: bool, timeout: float
) -> None:
    """Upload PATH (a .tar.gz sdist) to the package bucket: that deploys it once it is validated."""
    from tqdm import tqdm

    target = _target(ctx)
    size = path.stat().st_size
    blob = target.upload_bucket.blob(target.settings.flexrun_packages_prefix + (name or path.name))
    blob.metadata = {"uploader": uploader, **({ALLOW_OLDER_KEY: "true"} if allow_older else {})}
    if size > RESUMABLE_THRESHOLD:
        blob.chunk_size = RESUMABLE_THRESHOLD
    with path.open("rb") as handle:
        with tqdm.wrapattr(
            handle, "read", total=size, desc=blob.name, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr
        ) as stream:
            blob.upload_from_file(stream, size=size, content_type="application/gzip")
    click.echo(f"uploaded gs://{target.settings.gcp_bucket_name}/{blob.name} generation {blob.generation}")
    if wait:
        entry = _wait_for_verdict(target, blob.name, int(blob.generation), timeout)
        _print_verdict(entry)
        if entry.status is VersionStatus.REJECTED:
            ctx.exit(1)


def _wait_for_verdict(target: Target, object_name: str, generation: int, timeout: float) -> ManifestEntry:
    from shared.polling import PollTimeout, poll

    try:
        return poll(
            lambda: target.manifest.read()[0].find_upload(object_name, generation), timeout=timeout, interval=0.5
        )
    except PollTimeout:
        raise click.ClickException(
            f"no verdict for {object_name} after {timeout:.0f} s; see `flexrun package list`"
        ) from None


def _print_verdict(entry: ManifestEntry) -> None:
    if entry.status is VersionStatus.VALIDATED:
        click.secho(f"validated: version {entry.version} (sha256 {entry.sha256[:12]}…) is deployable", fg="green")
        return
    click.secho(f"rejected: {entry.object_name}", fg="red")
    for reason in entry.reasons:
        click.echo(f"  {reason.code}: {reason.message}")
    click.echo(f"  quarantined at {entry.quarantine_uri}")


def _status(manifest: Manifest, entry: ManifestEntry, deployable: ManifestEntry | None) -> str:
    words = [entry.status.value]
    if entry.status is VersionStatus.VALIDATED and manifest.pinned == entry.version:
        words.append("pinned")
    if deployable is not None and entry is deployable:
        words.append("deployable")
    return ", ".join(words)


@package.command(name="list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Every uploaded version with its status, newest first."""
    manifest, generation = _target(ctx).manifest.read()
    deployable = manifest.deployable()
    rows = [("VERSION", "STATUS", "SIZE", "UPLOADER", "RECORDED (UTC)", "REASONS / OBJECT")]
    for e in sorted(manifest.entries, key=lambda e: e.recorded_at, reverse=True):
        detail = ", ".join(r.code for r in e.reasons) or e.object_name
        recorded = e.recorded_at.strftime("%Y-%m-%d %H:%M:%S")
        rows.append(
            (e.version or "-", _status(manifest, e, deployable), f"{e.size:,}", e.uploader or "-", recorded, detail)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    pinned = f"pinned {manifest.pinned}" if manifest.pinned else "not pinned"
    click.echo(
        f"\n{len(manifest.entries)} uploads; {pinned}; "
        f"manifest schema {manifest.schema_version}, generation {generation}"
    )


@package.command()
@click.argument("version")
@click.pass_context
def show(ctx: click.Context, version: str) -> None:
    """Every upload of VERSION, as JSON."""
    manifest, _ = _target(ctx).manifest.read()
    found = [e.model_dump(mode="json") for e in manifest.entries if e.version == version]
    if not found:
        raise click.ClickException(f"no upload of version {version} in the manifest")
    click.echo(json.dumps({"pinned": manifest.pinned == version, "uploads": found}, indent=2))


def _change(ctx: click.Context, action: str, version: str | None, by: str) -> None:
    target = _target(ctx)

    def change(manifest: Manifest) -> Manifest | None:
        if action == "pin":
            assert version is not None
            return None if manifest.pinned == version else manifest.pin(version, by)
        return manifest.unpin(by) if action == "unpin" else manifest.rollback(by)

    try:
        manifest = target.manifest.update(change)
    except ManifestOperationRefused as refused:
        raise click.ClickException(str(refused)) from None
    deployable = manifest.deployable()
    click.echo(f"{action}: deployable version is now {deployable.version if deployable else 'none'}")


@package.command()
@click.argument("version")
@click.option("--by", default=getpass.getuser, show_default="your user name")
@click.pass_context
def pin(ctx: click.Context, version: str, by: str) -> None:
    """Run VERSION from now on, whatever is uploaded later."""
    _change(ctx, "pin", version, by)


@package.command()
@click.option("--by", default=getpass.getuser, show_default="your user name")
@click.pass_context
def unpin(ctx: click.Context, by: str) -> None:
    """Go back to running the newest validated version."""
    _change(ctx, "unpin", None, by)


@package.command()
@click.option("--by", default=getpass.getuser, show_default="your user name")
@click.pass_context
def rollback(ctx: click.Context, by: str) -> None:
    """Pin the newest validated version older than the one deployed now."""
    _change(ctx, "rollback", None, by)


def _register() -> None:
    # Defined in their own modules (this one holds the cloud-facing commands); registered here so
    # `flexrun package --help` lists them all.
    from cli.package_check import check
    from cli.package_wrap import wrap

    package.add_command(check)
    package.add_command(wrap)


_register()
