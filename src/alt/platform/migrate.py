"""Versioned schema migrations for the app and auth databases.

Migrations are the SQL files `migrations/<database>/NNNN_name.sql`, applied in order, each in its
own transaction, and recorded with a checksum. A session advisory lock serialises runners, so
several replicas may run `alt migrate` at once: the first applies, the others find nothing to do.

The job queue's schema is procrastinate's, frozen as SQL in app/0002_job_queue.sql (what
procrastinate 3.10.0 generated): a migration never changes with the installed package. Upgrading
procrastinate is a migration of its own; migrations/README.md says how.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg

from alt.services import Database

LOCK_KEY = 0x616C745F6D6967  # "alt_mig": one key for every runner of a database
# The procrastinate release whose schema the app migrations build; an upgrade adds a migration
# and changes this (tests/test_migrate.py compares it with the installed package).
JOB_QUEUE_SCHEMA_VERSION = "3.10.0"


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_for(database: Database) -> list[Migration]:
    folder = resources.files("alt.platform.migrations").joinpath(database.value)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append(Migration(version, name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {database.value}: {versions}")
    return found


def migrate(url: str, database: Database) -> list[str]:
    """Apply what is missing; return the versions applied by this call."""
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
            done: dict[str, str] = dict(rows)
            for migration in migrations_for(database):
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"{database.value} migration {migration.version}_{migration.name} "
                            "changed after it was applied; add a new migration instead"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied_now
