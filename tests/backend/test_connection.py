"""The two ways a handler runs its statements (`alt.platform.db`): in autocommit, each by
itself, or in one transaction; either way the pool gets its connections back as it gave them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from alt.platform.db import Connection, Pool, autocommit, transaction


@pytest.fixture
async def pool(create_database: Callable[[], str]) -> AsyncIterator[Pool]:
    made: Pool = AsyncConnectionPool(
        create_database(),
        min_size=1,
        max_size=1,
        connection_class=Connection,
        kwargs={"row_factory": dict_row},
        open=False,
    )
    async with made:
        async with made.connection() as conn:
            await conn.execute("CREATE TABLE t (n int)")
        yield made


async def numbers(pool: Pool) -> list[int]:
    async with pool.connection() as conn:
        assert not conn.autocommit  # the pool's own setting, given back
        rows = await (await conn.execute("SELECT n FROM t ORDER BY n")).fetchall()
    return [row["n"] for row in rows]


async def test_in_autocommit_each_statement_commits_alone(pool: Pool) -> None:
    async with autocommit(pool) as conn:
        await conn.execute("INSERT INTO t VALUES (1)")
        assert conn.info.transaction_status.name == "IDLE"  # no transaction left open

    async def fail_after_a_statement() -> None:
        async with autocommit(pool) as conn:
            await conn.execute("INSERT INTO t VALUES (2)")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await fail_after_a_statement()
    assert await numbers(pool) == [1, 2]  # each statement committed by itself


async def test_in_a_transaction_the_statements_commit_together_or_not_at_all(pool: Pool) -> None:
    async with transaction(pool) as conn:
        await conn.execute("INSERT INTO t VALUES (1)")
        assert conn.info.transaction_status.name == "INTRANS"
        await conn.execute("INSERT INTO t VALUES (2)")

    async def fail_after_two_statements() -> None:
        async with transaction(pool) as conn:
            await conn.execute("INSERT INTO t VALUES (3)")
            await conn.execute("INSERT INTO t VALUES (4)")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await fail_after_two_statements()
    assert await numbers(pool) == [1, 2]  # the failed block left nothing
