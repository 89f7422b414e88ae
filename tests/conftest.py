"""Shared fixtures: a real PostgreSQL (ALT_TEST_DATABASE_URL), fresh databases per test session,
service keys, and settings pointing at them."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from alt.config import Settings, load_settings
from alt.platform.migrate import migrate
from alt.platform.service_tokens import generate_key_file
from alt.services import Database

ADMIN_URL = os.environ.get(
    "ALT_TEST_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)


def _with_dbname(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def create_database() -> Iterator[Callable[[], str]]:
    """Make empty databases on the test server; all are dropped at the end of the session."""
    made: list[str] = []

    def create() -> str:
        name = f"alt_test_{secrets.token_hex(6)}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return _with_dbname(ADMIN_URL, name)

    yield create
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        for name in made:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def database_urls(create_database: Callable[[], str]) -> dict[Database, str]:
    """An app and an auth database, migrated once for the session."""
    urls = {Database.APP: create_database(), Database.AUTH: create_database()}
    for database, url in urls.items():
        migrate(url, database)
    return urls


@pytest.fixture(scope="session")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "service-keys.json"
    generate_key_file(path)
    return path


@pytest.fixture(scope="session")
def settings(
    database_urls: dict[Database, str], keys_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return load_settings(
        DATABASE_URL=database_urls[Database.APP],
        AUTH_DATABASE_URL=database_urls[Database.AUTH],
        ALT_SERVICE_KEYS_FILE=str(keys_file),
        ALT_DATA_DIR=str(tmp_path_factory.mktemp("data")),
    )
