"""PostgreSQL access: one connection pool per service, running as the service's own role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

from psycopg import AsyncConnection, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from alt.config import ConfigError, Settings
from alt.services import Database, ServiceSpec


def database_url(settings: Settings, database: Database) -> str:
    url = settings.database_url if database is Database.APP else settings.auth_database_url
    if url is None:
        name = "DATABASE_URL" if database is Database.APP else "AUTH_DATABASE_URL"
        raise ConfigError(
            f"{name}: not set; `alt up` runs an embedded PostgreSQL, "
            f"otherwise point {name} at a PostgreSQL database"
        )
    return str(url)


Connection: TypeAlias = AsyncConnection[DictRow]
Pool: TypeAlias = AsyncConnectionPool[Connection]
"""Every service's pool hands out connections whose rows are dicts."""


def make_pool(settings: Settings, spec: ServiceSpec) -> Pool:
    """A pool whose connections all act as `spec.db_role` (least privilege, even in embedded
    mode where every service shares one login)."""
    assert spec.database is not None
    assert spec.db_role is not None
    role = spec.db_role

    async def as_service_role(conn: Connection) -> None:
        await conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        await conn.commit()

    return AsyncConnectionPool(
        database_url(settings, spec.database),
        min_size=1,
        max_size=settings.db_pool_max,
        connection_class=Connection,
        kwargs={"row_factory": dict_row},
        configure=as_service_role,
        open=False,
        name=spec.name,
    )


@asynccontextmanager
async def autocommit(pool: Pool) -> AsyncIterator[Connection]:
    """A pooled connection on which every statement commits by itself: for work whose every
    statement stands alone (each is atomic, none needs another's snapshot or writes). It saves
    the BEGIN and COMMIT round trips a transaction costs, two of the three a read takes."""
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        try:
            yield conn
        finally:
            # The pool expects its own setting back. A connection left busy (a cancelled
            # statement) or broken is not reused by the pool, so nothing is left to restore.
            if conn.info.transaction_status is TransactionStatus.IDLE:
                await conn.set_autocommit(False)


@asynccontextmanager
async def transaction(pool: Pool) -> AsyncIterator[Connection]:
    """A pooled connection inside one transaction: the block's statements commit together
    when it ends, and none of them when it raises."""
    async with pool.connection() as conn, conn.transaction():
        yield conn
