"""The fetcher against a feed farm on loopback: every failure mode, conditional GET, dedupe,
one fetch per feed at a time, NOTIFY wake-ups."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from alt.platform.background import in_background
from alt.platform.egress import FetchResult
from alt.preprocessor.fetcher import FEEDS_DUE_CHANNEL, Claim, FeedFetcher, Outcome
from tests.preprocessor.conftest import RunningFarm, subscribe
from tests.support.farm import ITEMS, SLOW_S, expected_items, kind_of
from tests.support.waiting import until

FEEDS = 120  # covers every kind of feed the farm has


def _count(app_url: str, sql: str, *params: object) -> int:
    with psycopg.connect(app_url) as conn:
        row = conn.execute(sql.encode(), params).fetchone()
    assert row is not None
    return int(row[0])


def _feed(app_url: str, feed_id: int) -> dict[str, object]:
    with psycopg.connect(app_url, row_factory=psycopg.rows.dict_row) as conn:
        row = conn.execute("SELECT * FROM feeds WHERE id = %s", (feed_id,)).fetchone()
    assert row is not None
    return row


def _make_due(app_url: str) -> None:
    with psycopg.connect(app_url) as conn:
        conn.execute("UPDATE feeds SET next_check_at = now()")


async def test_a_round_stores_every_item_and_records_every_failure(
    fetcher: FeedFetcher, farm: RunningFarm, app_url: str
) -> None:
    ids = subscribe(app_url, [farm.url(n) for n in range(FEEDS)])
    # The slow feeds hold their own slots only: they stay in flight until every other feed is
    # done, which it could not be if they held up the round.
    slow = {farm.url(n) for n in range(FEEDS) if kind_of(n).slow}
    others_left = FEEDS - len(slow)
    others_done = asyncio.Event()
    fetch, fetch_feed = fetcher.egress.fetch, fetcher.fetch_feed

    async def slow_fetch(url: str, **options: Any) -> FetchResult:
        if url in slow:
            await asyncio.wait_for(others_done.wait(), SLOW_S * 30)
        return await fetch(url, **options)

    async def counting(claim: Claim) -> Outcome:
        nonlocal others_left
        outcome = await fetch_feed(claim)
        if claim.url not in slow:
            others_left -= 1
            if not others_left:
                others_done.set()
        return outcome

    fetcher.egress.fetch = slow_fetch  # type: ignore[method-assign]
    fetcher.fetch_feed = counting  # type: ignore[method-assign]
    outcomes = await fetcher.run_once()
    assert len(outcomes) == FEEDS
    assert not [o for o in outcomes if "internal error" in (o.error or "")]
    assert _count(app_url, "SELECT count(*) FROM articles") == expected_items(FEEDS, 1)
    # Every new article with a page waits for its full text.
    assert _count(
        app_url, "SELECT count(*) FROM article_contents WHERE status = 'pending'"
    ) == expected_items(FEEDS, 1)
    for n, feed_id in enumerate(ids):
        kind, feed = kind_of(n), _feed(app_url, feed_id)
        stored = _count(app_url, "SELECT count(*) FROM articles WHERE feed_id = %s", feed_id)
        if kind.healthy:
            assert stored == ITEMS, n
            assert feed["error_count"] == 0, (n, feed["last_error"])
            assert feed["etag"], n
            assert feed["title"] == f"Feed {n}"
        else:
            assert stored == 0, n
            assert feed["last_error"], n
        if kind.failing:
            assert feed["error_count"] == 1
            assert feed["last_status"] == 500
        if kind.limited:  # 429 is the publisher asking us to wait, not our failure
            assert feed["error_count"] == 0
            wait = (feed["next_check_at"] - datetime.now(UTC)).total_seconds()  # type: ignore[operator]
            assert 3500 < wait <= 3601
        if kind.malformed:
            assert "parse error" in str(feed["last_error"])
    assert await fetcher.run_once() == []  # nothing is due any more


async def test_a_second_round_uses_etags_and_stores_only_what_is_new(
    fetcher: FeedFetcher, farm: RunningFarm, app_url: str
) -> None:
    subscribe(app_url, [farm.url(n) for n in range(FEEDS)])
    await fetcher.run_once()
    farm.farm.round += 1
    _make_due(app_url)
    outcomes = await fetcher.run_once()
    healthy = [n for n in range(FEEDS) if kind_of(n).healthy]
    not_modified = sum(1 for o in outcomes if o.not_modified)
    assert not_modified == sum(1 for n in healthy if n % 10 != 2)
    assert sum(o.inserted for o in outcomes) == 2 * sum(1 for n in healthy if n % 10 == 2)
    assert _count(app_url, "SELECT count(*) FROM articles") == expected_items(FEEDS, 2)
    # Refetching everything once more (no ETags) duplicates nothing.
    with psycopg.connect(app_url) as conn:
        conn.execute("UPDATE feeds SET etag = NULL, last_modified = NULL, next_check_at = now()")
    await fetcher.run_once()
    assert _count(app_url, "SELECT count(*) FROM articles") == expected_items(FEEDS, 2)


# REL-02: two fetchers never fetch one feed at once.
async def test_two_fetchers_never_fetch_one_feed_at_once(
    fetcher: FeedFetcher, farm: RunningFarm, app_url: str
) -> None:
    subscribe(app_url, [farm.url(n) for n in range(0, 200, 5)])  # no slow or failing ones
    other = FeedFetcher(fetcher.pool, fetcher.egress, fetcher.policy, fetcher.listen_conninfo)
    first, second = await asyncio.gather(fetcher.run_once(), other.run_once())
    fetched = [o.feed_id for o in first + second]
    assert len(fetched) == len(set(fetched)) == 40
    assert max(farm.farm.hits[f"/feed/{n}"] for n in range(0, 200, 5)) == 1


async def test_notify_wakes_the_fetcher(
    fetcher: FeedFetcher, farm: RunningFarm, app_url: str
) -> None:
    async def listening() -> int:
        return _count(
            app_url,
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query = %s",
            f"LISTEN {FEEDS_DUE_CHANNEL}",
        )

    async def stored() -> int:
        return _count(app_url, "SELECT count(*) FROM articles WHERE feed_id = %s", feed_id)

    async with in_background("fetcher", fetcher.run_forever):
        await until(listening, 10, "the fetcher listens for due feeds")
        (feed_id,) = subscribe(app_url, [farm.url(10)])
        with psycopg.connect(app_url, autocommit=True) as conn:
            conn.execute(f"NOTIFY {FEEDS_DUE_CHANNEL}")
        await until(stored, 10, "the notified feed's articles are stored")
    assert await stored() == ITEMS


# REL-08: failures back off exponentially.
@pytest.mark.parametrize("feed", [13, 41])  # failing, malformed
async def test_failures_back_off_exponentially(
    fetcher: FeedFetcher, farm: RunningFarm, app_url: str, feed: int
) -> None:
    (feed_id,) = subscribe(app_url, [farm.url(feed)])
    waits = []
    for _ in range(4):
        _make_due(app_url)
        await fetcher.run_once()
        row = _feed(app_url, feed_id)
        waits.append((row["next_check_at"] - datetime.now(UTC)).total_seconds())  # type: ignore[operator]
    assert _feed(app_url, feed_id)["error_count"] == 4
    assert all(later > 1.7 * earlier for earlier, later in itertools.pairwise(waits))


# REL-08: 410 stops polling after a week; nothing is deleted.
async def test_a_gone_feed_stops_only_after_a_week_and_keeps_its_articles(
    fetcher: FeedFetcher, farm: RunningFarm, app_url: str
) -> None:
    recent, old = subscribe(app_url, [farm.url(53), farm.url(153)])
    with psycopg.connect(app_url) as conn:
        conn.execute(
            "UPDATE feeds SET last_success_at = now() - interval '8 days' WHERE id = %s", (old,)
        )
        conn.execute(
            "INSERT INTO articles (feed_id, entry_hash, title, published_at)"
            " VALUES (%s, sha256('kept'), 'kept', now())",
            (old,),
        )
    await fetcher.run_once()
    assert _feed(app_url, recent)["status"] == "active"
    assert _feed(app_url, recent)["last_status"] == 410
    assert _feed(app_url, old)["status"] == "gone"
    assert _count(app_url, "SELECT count(*) FROM articles WHERE feed_id = %s", old) == 1
    _make_due(app_url)
    assert [o.feed_id for o in await fetcher.run_once()] == [recent]  # gone feeds rest


async def test_the_slowest_feeds_of_a_round_start_first(
    fetcher: FeedFetcher, farm: RunningFarm, app_url: str
) -> None:
    from tests.support.farm import latency_of

    plain = [n for n in range(100) if kind_of(n) == kind_of(0)][:5]
    ids = subscribe(app_url, [farm.url(n) for n in plain])
    await fetcher.run_once()
    with psycopg.connect(app_url) as conn:
        recorded = dict(conn.execute("SELECT id, last_fetch_ms FROM feeds").fetchall())
    for n, feed_id in zip(plain, ids, strict=True):
        # The farm's latency for the feed, and not much more on loopback.
        assert latency_of(n) * 1000 <= recorded[feed_id] < latency_of(n) * 1000 + 1000

    durations = dict(zip(ids, [10, 500, None, 2000, 100], strict=True))
    with psycopg.connect(app_url) as conn:
        for feed_id, ms in durations.items():
            conn.execute(
                "UPDATE feeds SET last_fetch_ms = %s, next_check_at = now() WHERE id = %s",
                (ms, feed_id),
            )
    started: list[int] = []
    fetch_feed = fetcher.fetch_feed

    async def recording(claim: Claim) -> Outcome:
        started.append(claim.id)
        return await fetch_feed(claim)

    fetcher.fetch_feed = recording  # type: ignore[method-assign]
    await fetcher.run_once()
    assert started == [ids[3], ids[1], ids[4], ids[0], ids[2]]
