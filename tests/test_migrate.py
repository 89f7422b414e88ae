"""Migrations: from empty, re-run, concurrent runners, tampering, dump and restore, and the
least-privilege roles they create."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql

from alt.platform.migrate import MigrationError, migrate, migrations_for
from alt.services import SERVICES, Database


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}


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


def test_concurrent_runners_apply_each_migration_once(create_database: Callable[[], str]) -> None:
    url = create_database()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: migrate(url, Database.APP), range(4)))
    applied = sorted(v for result in results for v in result)
    assert applied == [m.version for m in migrations_for(Database.APP)]
    assert sum(1 for result in results if result) == 1


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
