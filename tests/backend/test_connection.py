"""The handlers' autocommit connection hands the pool back its connections as it gave them."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import cast

import pytest
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from alt.backend.web import connection
from alt.platform.http_app import ServiceContext


async def test_statements_commit_alone_and_the_pool_gets_its_setting_back(
    create_database: Callable[[], str],
) -> None:
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
        create_database(), min_size=1, max_size=1, kwargs={"row_factory": dict_row}, open=False
    )
    async with pool:
        ctx = cast(ServiceContext, SimpleNamespace(pool=pool))
        async with connection(ctx) as conn:
            await conn.execute("CREATE TABLE t (n int)")
            await conn.execute("INSERT INTO t VALUES (1)")
            assert conn.info.transaction_status.name == "IDLE"  # no transaction left open

        async def fail_after_a_statement() -> None:
            async with connection(ctx) as conn:
                await conn.execute("INSERT INTO t VALUES (2)")
                raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            await fail_after_a_statement()
        async with pool.connection() as conn:
            assert not conn.autocommit
            rows = await (await conn.execute("SELECT n FROM t ORDER BY n")).fetchall()
            assert rows == [{"n": 1}, {"n": 2}]  # each statement committed by itself
