"""Migrations: from empty, re-run, concurrent runners, tampering, dump and restore, the frozen
job-queue schema, and the least-privilege roles they create."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

import psycopg
import pytest
from procrastinate.schema import SchemaManager
from psycopg import sql

from alt.platform.migrate import (
    JOB_QUEUE_SCHEMA_VERSION,
    MigrationError,
    migrate,
    migrations_for,
)
from alt.services import SERVICES, Database

# sha256 of the job-queue schema procrastinate 3.10.0 generated, which every database migrated
# before 0002 was frozen recorded as 0002's checksum.
JOB_QUEUE_3_10_0_CHECKSUM = "c70ec4b400a60ad9592787653aae5ae77ae41bf801d56b5bd2712751a07f2009"


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}


# REL-10: a second run changes nothing.
@pytest.mark.parametrize("database", list(Database))
def test_from_empty_then_again(create_database: Callable[[], str], database: Database) -> None:
    url = create_database()
    expected = [m.version for m in migrations_for(database)]
    assert migrate(url, database) == expected
    tables = _tables(url)
    assert migrate(url, database) == []
    assert _tables(url) == tables
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [row[0] for row in rows] == expected


def test_app_schema_has_the_data_model(database_urls: dict[Database, str]) -> None:
    tables = _tables(database_urls[Database.APP])
    assert {
        "feeds",
        "subscriptions",
        "categories",
        "articles",
        "article_contents",
        "summaries",
        "tags",
        "article_tags",
        "read_states",
        "favorites",
        "procrastinate_jobs",
    } <= tables
    assert {"users", "sessions", "audit_log"} <= _tables(database_urls[Database.AUTH])


# REL-10: concurrent runners apply each migration once.
def test_concurrent_runners_apply_each_migration_once(create_database: Callable[[], str]) -> None:
    url = create_database()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: migrate(url, Database.APP), range(4)))
    applied = sorted(v for result in results for v in result)
    assert applied == [m.version for m in migrations_for(Database.APP)]
    assert sum(1 for result in results if result) == 1


# REL-10: a changed migration is refused by its checksum.
def test_a_changed_migration_is_refused(create_database: Callable[[], str]) -> None:
    url = create_database()
    migrate(url, Database.AUTH)
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = '0001'")
    with pytest.raises(MigrationError, match="0001_schema changed"):
        migrate(url, Database.AUTH)


def test_dump_restores_and_needs_no_migration(
    create_database: Callable[[], str], database_urls: dict[Database, str]
) -> None:
    source = database_urls[Database.APP]
    with psycopg.connect(source) as conn:
        conn.execute(
            "INSERT INTO feeds (url) VALUES ('https://example.org/restore.xml')"
            " ON CONFLICT DO NOTHING"
        )
    target = create_database()
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--dbname", source], capture_output=True, check=True
    ).stdout
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", target],
        input=dump,
        capture_output=True,
        check=True,
    )
    assert migrate(target, Database.APP) == []
    with psycopg.connect(target) as conn:
        row = conn.execute(
            "SELECT count(*) FROM feeds WHERE url = %s", ("https://example.org/restore.xml",)
        ).fetchone()
    assert row == (1,)


def _migration(database: Database, version: str) -> str:
    return next(m.sql for m in migrations_for(database) if m.version == version)


def test_the_job_queue_schema_is_frozen_as_procrastinate_3_10_0_made_it() -> None:
    job_queue = next(m for m in migrations_for(Database.APP) if m.version == "0002")
    assert job_queue.name == "job_queue"
    assert job_queue.checksum == JOB_QUEUE_3_10_0_CHECKSUM


def test_the_installed_procrastinate_is_the_one_the_migrations_build() -> None:
    assert metadata.version("procrastinate") == JOB_QUEUE_SCHEMA_VERSION, (
        "procrastinate was upgraded without a migration of its schema: "
        "see src/alt/platform/migrations/README.md"
    )


def test_a_database_migrated_before_the_freeze_migrates_after_a_procrastinate_upgrade(
    create_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the freeze, 0002 was procrastinate's schema read at run time, recorded with that
    text's checksum. A database left so at 0002 migrates on with another procrastinate."""
    url = create_database()
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations ("
            " version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name in (("0001", "schema"), ("0002", "job_queue")):
            text = _migration(Database.APP, version)
            conn.execute(text.encode())
            checksum = JOB_QUEUE_3_10_0_CHECKSUM
            if version == "0001":
                checksum = hashlib.sha256(text.encode()).hexdigest()
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (version, name, checksum),
            )
    upgraded = SchemaManager.get_schema() + "\n-- a later procrastinate's schema\n"
    monkeypatch.setattr(SchemaManager, "get_schema", staticmethod(lambda: upgraded))
    later = [m.version for m in migrations_for(Database.APP) if m.version > "0002"]
    assert migrate(url, Database.APP) == later
    assert migrate(url, Database.APP) == []


# What procrastinate's own objects look like in a database, to compare two of them.
JOB_QUEUE_OBJECTS = """
SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' '
    || coalesce(column_default, '') || ' ' || is_nullable
FROM information_schema.columns
WHERE table_schema = 'public' AND table_name LIKE 'procrastinate%'
UNION ALL
SELECT 'function', pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate%' AND p.prokind = 'f'
UNION ALL
SELECT 'index', indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename LIKE 'procrastinate%'
UNION ALL
SELECT 'constraint', conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE conrelid::regclass::text LIKE 'procrastinate%'
UNION ALL
SELECT 'trigger', pg_get_triggerdef(oid) FROM pg_trigger
WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'procrastinate%'
UNION ALL
SELECT 'type', t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
WHERE t.typname LIKE 'procrastinate%' GROUP BY t.typname
"""


def _job_queue_objects(url: str) -> set[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return {(kind, text) for kind, text in conn.execute(JOB_QUEUE_OBJECTS)}


def test_the_migrations_build_the_installed_procrastinates_schema(
    create_database: Callable[[], str], database_urls: dict[Database, str]
) -> None:
    reference = create_database()
    with psycopg.connect(reference) as conn:
        conn.execute(SchemaManager.get_schema().encode())
    expected = _job_queue_objects(reference)
    kinds = {"column", "function", "index", "constraint", "trigger", "type"}
    assert {kind for kind, _ in expected} == kinds
    assert _job_queue_objects(database_urls[Database.APP]) == expected


def _as(url: str, role: str, statement: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        conn.execute(statement.encode())
        conn.rollback()


ALLOWED = [
    ("alt_backend", "SELECT count(*) FROM subscriptions"),
    ("alt_backend", "DELETE FROM favorites WHERE false"),
    ("alt_pre_processor", "UPDATE articles SET title = title WHERE false"),
    ("alt_pre_processor", "SELECT count(*) FROM procrastinate_jobs"),
    ("alt_tag_generator", "DELETE FROM article_tags WHERE false"),
    ("alt_search_indexer", "SELECT count(*) FROM articles"),
]
DENIED = [
    ("alt_backend", "DELETE FROM articles WHERE false"),
    ("alt_backend", "UPDATE summaries SET summary = summary WHERE false"),
    ("alt_tag_generator", "DELETE FROM articles WHERE false"),
    ("alt_tag_generator", "SELECT count(*) FROM read_states"),
    ("alt_search_indexer", "INSERT INTO tags (name) VALUES ('x')"),
    ("alt_search_indexer", "SELECT count(*) FROM favorites"),
    ("alt_news_creator", "SELECT count(*) FROM articles"),
    ("alt_sidecar", "DELETE FROM feeds WHERE false"),
    ("alt_pre_processor", "DELETE FROM subscriptions WHERE false"),
]


@pytest.mark.parametrize(("role", "statement"), ALLOWED)
def test_roles_may_do_their_work(
    database_urls: dict[Database, str], role: str, statement: str
) -> None:
    _as(database_urls[Database.APP], role, statement)


@pytest.mark.parametrize(("role", "statement"), DENIED)
def test_roles_may_do_nothing_else(
    database_urls: dict[Database, str], role: str, statement: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as(database_urls[Database.APP], role, statement)


def test_every_database_service_has_its_role(database_urls: dict[Database, str]) -> None:
    for spec in SERVICES.values():
        if spec.database is None:
            continue
        url = database_urls[spec.database]
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (spec.db_role,)
            ).fetchone()
        assert row == (False,), spec.name
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as(database_urls[Database.AUTH], "alt_backend", "SELECT count(*) FROM public.users")
