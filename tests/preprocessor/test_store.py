"""Storage and retention: a poison entry stays alone, starred articles are never purged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from alt.feeds.parse import ParsedFeed, parse_feed
from alt.platform.db import Pool
from alt.preprocessor import retention, store
from alt.preprocessor.settings import IngestSettings
from tests.preprocessor.conftest import subscribe

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _rss(count: int, start: datetime = NOW) -> bytes:
    items = "".join(
        f"<item><title>t{n}</title><link>https://news.example/{n}</link><guid>g{n}</guid>"
        f"<pubDate>{(start - timedelta(days=n)).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
        f"</pubDate></item>"
        for n in range(count)
    )
    return f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode()


async def test_a_poison_entry_does_not_block_the_others(pool: Pool, app_url: str) -> None:
    (feed_id,) = subscribe(app_url, ["https://news.example/poison.xml"])
    feed = parse_feed(
        _rss(3), url="https://news.example/poison.xml", content_type=None, fetched_at=NOW
    )
    # An entry the database refuses (a title over the column's limit) among good ones.
    bad = feed.entries[1]._replace(title="x" * 5000)
    poisoned = feed._replace(entries=[feed.entries[0], bad, feed.entries[2]])
    async with pool.connection() as conn:
        inserted, updated = await store.store_entries(conn, feed_id, poisoned, NOW)
    assert (inserted, updated) == (2, 0)
    async with pool.connection() as conn:
        again = await store.store_entries(conn, feed_id, feed, NOW)
    assert again == (1, 0)  # the good two are known, the fixed one is new


async def test_staged_entries_are_moved_once_and_leave_no_space_behind(
    pool: Pool, app_url: str
) -> None:
    urls = ["https://news.example/a.xml", "https://news.example/b.xml"]
    first, second = subscribe(app_url, urls)
    feeds = [parse_feed(_rss(3), url=url, content_type=None, fetched_at=NOW) for url in urls]
    async with pool.connection() as conn:
        async with conn.transaction():
            assert await store.store_entries(conn, first, feeds[0], NOW) == (3, 0)
            # The second upsert of the transaction sees only its own rows.
            changed = feeds[1]._replace(entries=[e._replace(title="new") for e in feeds[1].entries])
            await store.store_entries(conn, second, feeds[1], NOW)
            assert await store.store_entries(conn, second, changed, NOW) == (0, 3)
        row = await (
            await conn.execute(
                "SELECT count(*) AS n, pg_relation_size('pg_temp.staged_entries') AS size"
                "  FROM pg_temp.staged_entries"
            )
        ).fetchone()
    assert row == {"n": 0, "size": 0}


async def test_retention_keeps_starred_and_the_newest(pool: Pool, app_url: str) -> None:
    (feed_id,) = subscribe(app_url, ["https://news.example/old.xml"])
    now = datetime.now(UTC)
    feed = parse_feed(
        _rss(30, start=now), url="https://news.example/old.xml", content_type=None, fetched_at=now
    )
    async with pool.connection() as conn:
        await store.store_entries(conn, feed_id, feed, now)
    with psycopg.connect(app_url) as conn:
        starred = conn.execute("SELECT id FROM articles WHERE title = 't29'").fetchone()
        assert starred is not None
        conn.execute(
            "INSERT INTO favorites (user_id, article_id) "
            "SELECT user_id, %s FROM subscriptions LIMIT 1",
            (starred[0],),
        )
    policy = IngestSettings(retention_max_age_days=20, retention_max_articles=10)
    async with pool.connection() as conn:
        deleted = await retention.purge(conn, policy)
    with psycopg.connect(app_url) as conn:
        titles = {row[0] for row in conn.execute("SELECT title FROM articles")}
    assert titles == {f"t{n}" for n in range(10)} | {"t29"}
    assert deleted == 19


async def test_entries_are_stored_with_their_list_excerpt(pool: Pool, app_url: str) -> None:
    url = "https://news.example/excerpt.xml"
    (feed_id,) = subscribe(app_url, [url])

    def feed_saying(html: str) -> ParsedFeed:
        body = (
            "<rss version='2.0'><channel><title>T</title><item><guid>e1</guid><title>e1</title>"
            f"<description><![CDATA[{html}]]></description></item></channel></rss>"
        )
        return parse_feed(body.encode(), url=url, content_type=None, fetched_at=NOW)

    for html, wanted in (("<p>Hello <b>there</b></p>", "Hello there"), ("<p>New</p>", "New")):
        async with pool.connection() as conn:
            await store.store_entries(conn, feed_id, feed_saying(html), NOW)
        with psycopg.connect(app_url) as conn:
            stored = conn.execute("SELECT excerpt FROM articles WHERE feed_id = %s", (feed_id,))
            assert stored.fetchall() == [(wanted,)]
