"""Group commit for fetch outcomes: while one batch is being written, the outcomes that arrive
queue up, and the next batch takes them all in one transaction.

A round of a thousand feeds is then a few dozen transactions instead of a thousand: fewer round
trips and commits for the fetcher and for PostgreSQL, and when fetches are few, a batch of one
is written at once, with no timer to wait for. Every feed's entries and cursor still commit
together (REL-01); a poison entry sends its batch back to be written feed by feed (REL-07),
and a feed whose write is refused even then fails alone.
"""

from __future__ import annotations

import asyncio

from alt.platform.db import Connection, Pool
from alt.preprocessor import store
from alt.preprocessor.store import FeedWrite

Counts = tuple[int, int]


class FeedWriter:
    def __init__(self, pool: Pool, max_batch: int = 200) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self._pending: list[tuple[FeedWrite, asyncio.Future[Counts]]] = []
        self._turn = asyncio.Lock()

    async def write(self, item: FeedWrite) -> Counts:
        """Store one outcome (with whatever else is waiting); return (inserted, updated)."""
        done: asyncio.Future[Counts] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        while not done.done():
            async with self._turn:
                if not done.done():
                    await self._write_next_batch()
        return done.result()

    async def _write_next_batch(self) -> None:
        batch = self._pending[: self.max_batch]
        del self._pending[: self.max_batch]
        try:
            results = await self._write([item for item, _ in batch])
        except Exception as exc:  # every writer in the batch sees the error
            for _, done in batch:
                done.set_exception(exc)
            return
        except BaseException:  # cancelled: the others' outcomes wait for the next batch
            self._pending[:0] = batch
            raise
        for (_, done), result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                done.set_exception(result)
            else:
                done.set_result(result)

    async def _write(self, writes: list[FeedWrite]) -> list[Counts | Exception]:
        async with self.pool.connection() as conn:
            try:
                async with conn.transaction():
                    return list(await store.write(conn, writes))
            except store.POISON:
                return [await _alone(conn, item) for item in writes]


async def _alone(conn: Connection, item: FeedWrite) -> Counts | Exception:
    try:
        return await store.write_alone(conn, item)
    except store.POISON as exc:  # its feed's state itself is refused: that feed fails alone
        return exc
