"""Group commit of fetch outcomes: batches, and a poison entry that spoils only its own feed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from alt.feeds.parse import ParsedFeed, parse_feed
from alt.platform.db import Pool
from alt.preprocessor import store
from alt.preprocessor.writer import FeedWriter
from tests.preprocessor.conftest import subscribe
from tests.support.waiting import until

NOW = datetime(2026, 11, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def _feed(url: str, items: int) -> ParsedFeed:
    body = "".join(
        f"<item><title>t{n}</title><link>https://news.example/{n}</link><guid>g{n}</guid></item>"
        for n in range(items)
    )
    rss = f"<rss version='2.0'><channel><title>Feed</title>{body}</channel></rss>"
    return parse_feed(rss.encode(), url=url, content_type=None, fetched_at=NOW)


def _fetched(feed_id: int, feed: ParsedFeed) -> store.Fetched:
    return store.Fetched(feed_id, feed, '"v1"', None, 200, NOW, LATER)


class CountingWriter(FeedWriter):
    """Counts the transactions the writer opens."""

    batches: list[int]

    async def _write(self, writes: list[store.FeedWrite]) -> list[tuple[int, int] | Exception]:
        self.batches.append(len(writes))
        return await super()._write(writes)


class StallingWriter(FeedWriter):
    """Its first batch stays in the middle of being written until it is cancelled."""

    def __init__(self, pool: Pool) -> None:
        super().__init__(pool)
        self.writing = asyncio.Event()

    async def _write(self, writes: list[store.FeedWrite]) -> list[tuple[int, int] | Exception]:
        if not self.writing.is_set():
            self.writing.set()
            await asyncio.get_running_loop().create_future()  # done only by cancelling it
        return await super()._write(writes)


async def test_concurrent_outcomes_share_transactions(pool: Pool, app_url: str) -> None:
    urls = [f"https://news.example/{n}.xml" for n in range(60)]
    ids = subscribe(app_url, urls)
    writer = CountingWriter(pool, max_batch=25)
    writer.batches = []
    writes: list[store.FeedWrite] = []
    for n, feed_id in enumerate(ids):
        if n % 3 == 0:
            writes.append(_fetched(feed_id, _feed(urls[n], 4)))
        elif n % 3 == 1:
            writes.append(store.NotModified(feed_id, NOW, LATER))
        else:
            writes.append(store.Failed(feed_id, "HTTP 500", 500, True, NOW, LATER))

    counts = await asyncio.gather(*(writer.write(w) for w in writes))

    assert counts == [(4, 0) if n % 3 == 0 else (0, 0) for n in range(60)]
    assert sum(writer.batches) == 60
    assert len(writer.batches) < 10  # a batch of one first, then whatever queued behind it
    assert max(writer.batches) <= 25
    with psycopg.connect(app_url) as conn:
        rows = conn.execute(
            "SELECT id, last_status, error_count, etag, next_check_at, claimed_until"
            " FROM feeds ORDER BY id"
        ).fetchall()
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()
    assert articles == (20 * 4,)
    by_id = {row[0]: row[1:] for row in rows}
    for n, feed_id in enumerate(ids):
        status, errors, etag, next_check, claimed = by_id[feed_id]
        assert status == (200, 304, 500)[n % 3]
        assert errors == (0, 0, 1)[n % 3]
        assert etag == ('"v1"' if n % 3 == 0 else None)
        assert next_check == LATER
        assert claimed is None


# REL-07: a poison entry spoils only its own feed.
async def test_a_poison_entry_spoils_only_its_own_feed(pool: Pool, app_url: str) -> None:
    urls = ["https://news.example/good.xml", "https://news.example/poison.xml"]
    good_id, poison_id = subscribe(app_url, urls)
    good, poisoned = _feed(urls[0], 3), _feed(urls[1], 3)
    # An entry the database refuses (a title over the column's limit) among good ones.
    bad = poisoned.entries[1]._replace(title="x" * 5000)
    poisoned = poisoned._replace(entries=[poisoned.entries[0], bad])
    writer = FeedWriter(pool)

    counts = await asyncio.gather(
        writer.write(_fetched(good_id, good)), writer.write(_fetched(poison_id, poisoned))
    )

    assert counts == [(3, 0), (1, 0)]
    with psycopg.connect(app_url) as conn:
        stored = conn.execute("SELECT feed_id, count(*) FROM articles GROUP BY feed_id")
        assert dict(stored.fetchall()) == {good_id: 3, poison_id: 1}
        statuses = conn.execute("SELECT last_status FROM feeds ORDER BY id").fetchall()
        assert statuses == [(200,), (200,)]


async def test_a_feed_whose_state_is_refused_fails_alone(pool: Pool, app_url: str) -> None:
    urls = [f"https://news.example/s{n}.xml" for n in range(3)]
    ids = subscribe(app_url, urls)
    refused = store.Fetched(ids[1], _feed(urls[1], 2), "e" * 2000, None, 200, NOW, LATER)
    writer = FeedWriter(pool)

    first, second, third = await asyncio.gather(
        writer.write(_fetched(ids[0], _feed(urls[0], 2))),
        writer.write(refused),
        writer.write(_fetched(ids[2], _feed(urls[2], 2))),
        return_exceptions=True,
    )

    assert (first, third) == ((2, 0), (2, 0))
    assert isinstance(second, psycopg.errors.CheckViolation)
    with psycopg.connect(app_url) as conn:
        stored = conn.execute("SELECT feed_id, count(*) FROM articles GROUP BY feed_id")
        assert dict(stored.fetchall()) == {ids[0]: 2, ids[2]: 2}  # and the refused one's none


async def test_a_cancelled_writer_leaves_the_others_outcomes_queued(
    pool: Pool, app_url: str
) -> None:
    ids = subscribe(app_url, [f"https://news.example/c{n}.xml" for n in range(3)])
    writer = StallingWriter(pool)
    first = asyncio.create_task(writer.write(store.NotModified(ids[0], NOW, LATER)))
    await writer.writing.wait()  # the first holds the turn and is writing
    waiting = [
        asyncio.create_task(writer.write(store.NotModified(feed_id, NOW, LATER)))
        for feed_id in ids[1:]
    ]

    async def queued() -> bool:
        return len(writer._pending) == 2

    await until(queued, 5, "the other two outcomes are queued")
    first.cancel()

    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.gather(*waiting) == [(0, 0), (0, 0)]
    with psycopg.connect(app_url) as conn:
        written = conn.execute("SELECT id FROM feeds WHERE last_status = 304 ORDER BY id")
        # The cancelled writer's own outcome is written too, by whoever writes next.
        assert [row[0] for row in written.fetchall()] == ids
