"""Versioned schema migrations for the app and auth databases.

Migrations are the SQL files `migrations/<database>/NNNN_name.sql`, applied in order, each in its
own transaction, and recorded with a checksum. A session advisory lock serialises runners, so
several replicas may run `alt migrate` at once: the first applies, the others find nothing to do.
The job queue's schema is the pinned job library's own and is applied as version 0002.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg
from procrastinate.schema import SchemaManager

from alt.services import Database

LOCK_KEY = 0x616C745F6D6967  # "alt_mig": one key for every runner of a database


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
            found.append(Migration(version, name, entry.read_text()))
    if database is Database.APP:
        found.append(Migration("0002", "job_queue", SchemaManager.get_schema()))
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
