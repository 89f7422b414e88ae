"""Retention is final: what it purges leaves a tombstone, so a feed that still serves the entry
does not bring it back; tombstones follow what the feed serves and go with their feed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from alt.backend import storage
from alt.backend.stats import counts_out
from alt.config import Settings
from alt.feeds.parse import ParsedFeed, parse_feed
from alt.platform.db import Pool
from alt.preprocessor import new_feed, retention, store
from alt.preprocessor.fetcher import FeedFetcher
from alt.preprocessor.parsing import FeedParsers
from alt.preprocessor.settings import IngestSettings
from tests.preprocessor.conftest import RunningFarm, egress_for, subscribe
from tests.support.farm import ITEMS, kind_of

FEED = 2  # a plain feed of the farm, with two new items in round 2
KEEP = 10
NOW = datetime.now(UTC)


def _sql(app_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(app_url) as conn:
        cursor = conn.execute(query.encode(), params)
        return cursor.fetchall() if cursor.description else []


def _guids(app_url: str, feed_id: int) -> set[str]:
    rows = _sql(app_url, "SELECT guid FROM articles WHERE feed_id = %s", feed_id)
    return {row[0] for row in rows}


def _hashes(app_url: str, feed_id: int) -> dict[bytes, str]:
    rows = _sql(app_url, "SELECT entry_hash, guid FROM articles WHERE feed_id = %s", feed_id)
    return {bytes(row[0]): row[1] for row in rows}


def _tombstones(app_url: str, feed_id: int, guid_of: dict[bytes, str]) -> dict[str, bool]:
    """The feed's tombstones by guid: whether the feed still serves the entry."""
    rows = _sql(
        app_url,
        "SELECT entry_hash, unserved_since IS NULL FROM entry_tombstones WHERE feed_id = %s",
        feed_id,
    )
    return {guid_of[bytes(row[0])]: row[1] for row in rows}


def _items(*numbers: int) -> set[str]:
    return {f"f{FEED}-i{n}" for n in numbers}


async def _purge(pool: Pool) -> int:
    async with pool.connection() as conn:
        return await retention.purge(conn, IngestSettings())


def _refetch(app_url: str, *, cursor: bool = False) -> None:
    """Make every feed due; without its cursor the farm answers 200 with the whole feed."""
    _sql(app_url, "UPDATE feeds SET next_check_at = now()")
    if not cursor:
        _sql(app_url, "UPDATE feeds SET etag = NULL, last_modified = NULL")


def _age(app_url: str, by: timedelta) -> None:
    """Every tombstone, purged and (if so) unserved `by` earlier."""
    _sql(
        app_url,
        "UPDATE entry_tombstones SET purged_at = purged_at - %s,"
        " unserved_since = unserved_since - %s",
        by,
        by,
    )


async def _fetched_with_a_limit(
    fetcher: FeedFetcher, farm: RunningFarm, app_url: str, user: uuid.UUID
) -> tuple[int, dict[bytes, str]]:
    """Farm feed FEED fetched (items 0-19), to be kept to its newest KEEP (10-19)."""
    assert kind_of(FEED).healthy
    (feed_id,) = subscribe(app_url, [farm.url(FEED)], user)
    await fetcher.run_once()
    guid_of = _hashes(app_url, feed_id)
    assert len(guid_of) == ITEMS
    _sql(app_url, "UPDATE feeds SET retention_max_articles = %s WHERE id = %s", KEEP, feed_id)
    return feed_id, guid_of


async def test_a_purged_entry_does_not_come_back_while_its_feed_serves_it(
    fetcher: FeedFetcher, farm: RunningFarm, app_url: str, pool: Pool, settings: Settings
) -> None:
    user = uuid.uuid4()
    feed_id, guid_of = await _fetched_with_a_limit(fetcher, farm, app_url, user)
    # The oldest is starred: never purged, never tombstoned, not counted against the limit.
    _sql(
        app_url,
        "INSERT INTO favorites (user_id, article_id) SELECT %s, id FROM articles WHERE guid = %s",
        user,
        f"f{FEED}-i0",
    )
    assert await _purge(pool) == ITEMS - KEEP - 1
    kept = _items(0, *range(ITEMS - KEEP, ITEMS))
    assert _guids(app_url, feed_id) == kept
    assert _tombstones(app_url, feed_id, guid_of) == dict.fromkeys(_items(*range(1, 10)), True)

    # The next fetch gets the whole feed again, purged items and all: none is stored.
    _refetch(app_url)
    (outcome,) = await fetcher.run_once()
    assert (outcome.error, outcome.not_modified, outcome.inserted, outcome.updated) == (
        None,
        False,
        0,
        0,
    )
    assert _guids(app_url, feed_id) == kept
    assert _tombstones(app_url, feed_id, guid_of) == dict.fromkeys(_items(*range(1, 10)), True)
    async with await psycopg.AsyncConnection.connect(app_url, row_factory=dict_row) as conn:
        assert counts_out(await storage.stats.unread_counts(conn, user)).total == len(kept)

    # Nor by a new subscriber's discovery of the same feed (one transaction of its own).
    async with egress_for(settings, farm.port) as egress, FeedParsers(workers=0) as parsers:
        url, result, feed = await new_feed.find_feed(egress, parsers, farm.url(FEED))
        found = await new_feed.store_new_feed(pool, IngestSettings(), url, result, feed)
    assert (found.feed_id, found.inserted) == (feed_id, 0)
    assert _guids(app_url, feed_id) == kept


async def test_a_new_item_is_stored_and_tombstones_go_once_the_feed_stops_serving_them(
    fetcher: FeedFetcher, farm: RunningFarm, app_url: str, pool: Pool
) -> None:
    feed_id, guid_of = await _fetched_with_a_limit(fetcher, farm, app_url, uuid.uuid4())
    assert await _purge(pool) == ITEMS - KEEP

    # Round 2: the feed serves two new items (20, 21) and no longer 0 and 1.
    farm.farm.round = 2
    _refetch(app_url, cursor=True)
    (outcome,) = await fetcher.run_once()
    assert outcome.inserted == 2
    guid_of |= _hashes(app_url, feed_id)
    assert _guids(app_url, feed_id) == _items(*range(10, 22))
    served, unserved = (
        dict.fromkeys(_items(*range(2, 10)), True),
        dict.fromkeys(_items(0, 1), False),
    )
    assert _tombstones(app_url, feed_id, guid_of) == served | unserved

    # Purged again (10, 11). Unserved tombstones stay for the grace period, served ones for good.
    assert await _purge(pool) == 2
    served |= dict.fromkeys(_items(10, 11), True)
    _age(app_url, retention.TOMBSTONE_GRACE - timedelta(days=1))
    assert await _purge(pool) == 0
    assert _tombstones(app_url, feed_id, guid_of) == served | unserved
    _age(app_url, timedelta(days=2))
    assert await _purge(pool) == 0
    assert _tombstones(app_url, feed_id, guid_of) == served

    # A 304 says nothing about what the feed serves: every tombstone stays as it was.
    _refetch(app_url, cursor=True)
    (outcome,) = await fetcher.run_once()
    assert outcome.not_modified
    assert _tombstones(app_url, feed_id, guid_of) == served
    assert _guids(app_url, feed_id) == _items(*range(12, 22))


def _rss(*numbers: int) -> bytes:
    items = "".join(
        f"<item><title>t{n}</title><guid>g{n}</guid>"
        f"<pubDate>{(NOW - timedelta(days=n)).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
        f"</pubDate></item>"
        for n in numbers
    )
    return f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode()


def _parsed(url: str, body: bytes) -> ParsedFeed:
    return parse_feed(body, url=url, content_type=None, fetched_at=NOW)


async def _write_alone(pool: Pool, feed_id: int, feed: ParsedFeed) -> tuple[int, int]:
    fetched = store.Fetched(feed_id, feed, None, None, 200, NOW, NOW + timedelta(hours=1))
    async with pool.connection() as conn:
        return await store.write_alone(conn, fetched)


async def test_a_tombstone_whose_entry_is_served_again_stays(pool: Pool, app_url: str) -> None:
    url = "https://news.example/again.xml"
    (feed_id,) = subscribe(app_url, [url])
    assert await _write_alone(pool, feed_id, _parsed(url, _rss(0, 1, 2, 3, 4))) == (5, 0)
    guid_of = _hashes(app_url, feed_id)
    _sql(app_url, "UPDATE feeds SET retention_max_articles = 3 WHERE id = %s", feed_id)
    assert await _purge(pool) == 2

    assert await _write_alone(pool, feed_id, _parsed(url, _rss(0, 1, 2, 3))) == (0, 0)
    assert _tombstones(app_url, feed_id, guid_of) == {"g3": True, "g4": False}
    assert await _write_alone(pool, feed_id, _parsed(url, _rss(0, 1, 2, 3, 4))) == (0, 0)
    assert _tombstones(app_url, feed_id, guid_of) == {"g3": True, "g4": True}
    _age(app_url, retention.TOMBSTONE_GRACE * 2)
    assert await _purge(pool) == 0
    assert _tombstones(app_url, feed_id, guid_of) == {"g3": True, "g4": True}
    assert _guids(app_url, feed_id) == {"g0", "g1", "g2"}


async def test_entries_stored_one_by_one_leave_the_tombstones_alone(
    pool: Pool, app_url: str
) -> None:
    url = "https://news.example/poison.xml"
    (feed_id,) = subscribe(app_url, [url])
    await _write_alone(pool, feed_id, _parsed(url, _rss(0, 1, 2, 3, 4)))
    guid_of = _hashes(app_url, feed_id)
    _sql(app_url, "UPDATE feeds SET retention_max_articles = 3 WHERE id = %s", feed_id)
    assert await _purge(pool) == 2

    # A poison entry sends the feed one entry at a time: no single one is the whole feed.
    # (A title over the column's limit: the database refuses it.)
    feed = _parsed(url, _rss(0, 1, 2, 3, 4, 5))
    poison = feed.entries[1]._replace(title="x" * 5000)
    poisoned = feed._replace(entries=[feed.entries[0], poison, *feed.entries[2:]])
    assert await _write_alone(pool, feed_id, poisoned) == (1, 0)
    assert _tombstones(app_url, feed_id, guid_of) == {"g3": True, "g4": True}
    assert _guids(app_url, feed_id) == {"g0", "g1", "g2", "g5"}


async def test_deleting_a_feed_deletes_its_tombstones(pool: Pool, app_url: str) -> None:
    urls = ["https://news.example/gone.xml", "https://news.example/stays.xml"]
    gone, stays = subscribe(app_url, urls)
    for feed_id, url in ((gone, urls[0]), (stays, urls[1])):
        await _write_alone(pool, feed_id, _parsed(url, _rss(0, 1, 2, 3, 4)))
    _sql(app_url, "UPDATE feeds SET retention_max_articles = 3")
    assert await _purge(pool) == 4

    _sql(app_url, "DELETE FROM feeds WHERE id = %s", gone)
    rows = _sql(app_url, "SELECT feed_id, count(*) FROM entry_tombstones GROUP BY feed_id")
    assert rows == [(stays, 2)]


FEEDS, ENTRIES = 3, 30


def _check_every_purge_has_its_tombstone(app_url: str) -> tuple[int, int]:
    """Every entry is stored or tombstoned, never both, never neither; (stored, tombstoned)."""
    (row,) = _sql(
        app_url,
        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM entry_tombstones),"
        " (SELECT count(*) FROM articles a JOIN entry_tombstones t"
        "     ON t.feed_id = a.feed_id AND t.entry_hash = a.entry_hash)",
    )
    stored, tombstoned, both = row
    assert (stored + tombstoned, both) == (FEEDS * ENTRIES, 0)
    return stored, tombstoned


def _purge_in_a_process(app_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.preprocessor.purge_once", app_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "ALT_LOG_LEVEL": "WARNING"},
    )


async def test_kill_nine_mid_purge_leaves_no_purge_without_its_tombstone(
    pool: Pool, app_url: str
) -> None:
    urls = [f"https://news.example/crash{n}.xml" for n in range(FEEDS)]
    for feed_id, url in zip(subscribe(app_url, urls), urls, strict=True):
        await _write_alone(pool, feed_id, _parsed(url, _rss(*range(ENTRIES))))
    _sql(app_url, "UPDATE feeds SET retention_max_articles = %s", KEEP)

    # The tombstones are locked away: a purge that wrote them apart from its deletions would
    # have deleted (and perhaps committed) by the time it waits here.
    with (
        psycopg.connect(app_url) as holder,
        psycopg.connect(app_url, autocommit=True) as watcher,
    ):
        holder.execute("LOCK TABLE entry_tombstones IN ACCESS EXCLUSIVE MODE")
        child = _purge_in_a_process(app_url)
        deadline = time.monotonic() + 30
        while not watcher.execute(
            "SELECT 1 FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone():
            assert child.poll() is None, "the purge did not wait for the tombstones"
            assert time.monotonic() < deadline, "the purge never reached the tombstones"
            await asyncio.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        await asyncio.to_thread(child.wait)
        holder.rollback()
    _check_every_purge_has_its_tombstone(app_url)

    finished = _purge_in_a_process(app_url)
    out, _ = await asyncio.to_thread(finished.communicate, timeout=60)
    assert out.split() == ["deleted", str(FEEDS * (ENTRIES - KEEP))]
    assert _check_every_purge_has_its_tombstone(app_url) == (
        FEEDS * KEEP,
        FEEDS * (ENTRIES - KEEP),
    )
