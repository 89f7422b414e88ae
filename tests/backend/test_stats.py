"""Unread counts, stats, and the stats stream (server-sent events), on the real services."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from alt.backend import stats
from alt.platform.identity import USER_TOKEN_HEADER
from tests.backend.conftest import BackendStack
from tests.backend.test_articles import NOW, Reader, add_articles, newest_first, reader

STATS_EVERY_S = 0.4
HEARTBEAT_EVERY_S = 0.15
RECOUNT_S = 3.0


@pytest.fixture(scope="module")
def fetch_env(fetch_env: None) -> Iterator[None]:
    """conftest's egress policy, and a quick stats stream (read when alt-backend starts)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALT_STATS_STREAM_EVERY_S", str(STATS_EVERY_S))
        patch.setenv("ALT_STATS_STREAM_HEARTBEAT_S", str(HEARTBEAT_EVERY_S))
        patch.setenv("ALT_STATS_STREAM_RECOUNT_S", str(RECOUNT_S))
        yield


async def test_unread_counts_per_feed_category_and_total(stack: BackendStack) -> None:
    alice = await reader(stack, {"News": 2, "Empty": 0, None: 1}, articles=6)
    await alice.send("POST", "/v1/categories", {"name": "Empty"})
    empty = (await alice.get("/v1/categories")).json()["categories"]
    empty_id = next(c["id"] for c in empty if c["name"] == "Empty")
    bob = await reader(stack, {"Bob's": 1}, articles=3)
    news = alice.categories["News"]
    first, second, loose = alice.feeds
    read = newest_first(stack, "a.feed_id = %s", (first,))[:2]
    await alice.send("POST", "/v1/articles/read", {"ids": read})
    await alice.send(
        "POST",
        "/v1/articles/mark-read",
        {"scope": "feed", "feed_id": loose, "before": NOW.isoformat()},
    )
    answer = await alice.get("/v1/unread-counts")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.json() == {
        "feeds": [
            {"feed_id": first, "category_id": news, "unread": 4},
            {"feed_id": second, "category_id": news, "unread": 6},
            {"feed_id": loose, "category_id": None, "unread": 0},
        ],
        "categories": sorted(
            [{"category_id": news, "unread": 10}, {"category_id": empty_id, "unread": 0}],
            key=lambda c: c["category_id"],
        ),
        "total": 10,
    }
    # New articles count at once; Bob's marks and feeds are his.
    add_articles(stack, second, 3)
    await bob.send("POST", "/v1/articles/mark-read", {"scope": "all", "before": NOW.isoformat()})
    assert (await alice.get("/v1/unread-counts")).json()["total"] == 13
    bobs = (await bob.get("/v1/unread-counts")).json()
    assert bobs["total"] == 0
    assert [f["feed_id"] for f in bobs["feeds"]] == bob.feeds


async def test_stats_count_the_callers_feeds_articles_summaries_and_unread_today(
    stack: BackendStack,
) -> None:
    alice = await reader(stack, {None: 2}, articles=0)
    old, new = alice.feeds
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    add_articles(stack, old, 4, newest=today - timedelta(hours=1), step=timedelta(hours=1))
    fresh = add_articles(stack, new, 5, newest=today + timedelta(seconds=30), step=timedelta(0))
    stack.app(
        "INSERT INTO summaries (article_id, prompt_version, status, summary, engine)"
        " SELECT id, 'v1', 'ready', 'Short.', 'extractive' FROM articles WHERE id = ANY(%s)",
        (fresh[:2],),
    )
    stack.app(
        "INSERT INTO summaries (article_id, prompt_version, status)"
        " SELECT id, 'v1', 'pending' FROM articles WHERE id = ANY(%s)",
        (fresh[2:4],),
    )
    await alice.send("PUT", f"/v1/articles/{fresh[0]}/read")
    bob = await reader(stack, {None: 1}, articles=7)
    answer = await alice.get("/v1/stats")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.json() == {
        "feeds": 2,
        "articles": 9,
        "summarised": 2,
        "unsummarised": 7,
        "unread_today": 4,
    }
    assert (await bob.get("/v1/stats")).json()["articles"] == 7


async def open_stream(
    stack: BackendStack, person: Reader, last_event_id: str | None = None
) -> AsyncIterator[str]:
    """The lines of the stats stream, read from alt-backend itself as the edge would."""
    token = await stack.user_token(person.browser)
    headers = {USER_TOKEN_HEADER: token}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with (
        stack.as_service("alt-frontend", "alt-backend") as client,
        client.stream("GET", "/v1/sse/feeds/stats", headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "private, no-store"
        async for line in response.aiter_lines():
            yield line


async def read_events(lines: AsyncIterator[str], count: int) -> tuple[list[dict[str, Any]], int]:
    """The next `count` events (id, event, data), and the heartbeats seen meanwhile."""
    events: list[dict[str, Any]] = []
    heartbeats = 0
    current: dict[str, Any] = {}
    async for line in lines:
        if line == ": heartbeat":
            heartbeats += 1
        elif line.startswith("retry: "):
            current["retry"] = int(line.removeprefix("retry: "))
        elif line.startswith(("id: ", "event: ", "data: ")):
            key, value = line.split(": ", 1)
            current[key] = value
        elif line == "" and "data" in current:
            current["data"] = json.loads(current["data"])
            events.append(current)
            current = {}
            if len(events) == count:
                break
    return events, heartbeats


async def test_the_stats_stream_sends_events_and_heartbeats_and_resumes(
    stack: BackendStack,
) -> None:
    alice = await reader(stack, {None: 1}, articles=0)
    add_articles(stack, alice.feeds[0], 3, newest=datetime.now(UTC), step=timedelta(0))
    lines = open_stream(stack, alice)
    events, heartbeats = await read_events(lines, 1)
    assert events[0]["retry"] == stats.RETRY_MS
    assert (events[0]["id"], events[0]["event"]) == ("1", "stats")
    first = events[0]["data"]
    assert first.pop("counts") == (await alice.get("/v1/unread-counts")).json()
    assert first == (await alice.get("/v1/stats")).json()
    assert events[0]["data"]["unread_today"] == 3
    # Changes show in the next events; heartbeats come in between.
    await alice.send(
        "POST",
        "/v1/articles/mark-read",
        {"scope": "all", "before": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()},
    )
    more, heartbeats = await read_events(lines, 2)
    assert [e["id"] for e in more] == ["2", "3"]
    assert more[-1]["data"]["unread_today"] == 0
    # Stats every period: between two of them, only a period's worth of heartbeats.
    assert 1 <= heartbeats <= 2 * (STATS_EVERY_S // HEARTBEAT_EVERY_S + 1)
    await lines.aclose()  # the client goes away

    # A reconnect continues the numbering and gets the stats at once.
    resumed = open_stream(stack, alice, last_event_id="3")
    (again,), heartbeats = await read_events(resumed, 1)
    assert heartbeats == 0, "the stats at once, before any heartbeat"
    assert (again["id"], again["retry"]) == ("4", stats.RETRY_MS)
    assert again["data"]["unread_today"] == 0
    await resumed.aclose()
    for junk in ("abc", "-1", ""):
        fresh = open_stream(stack, alice, last_event_id=junk)
        (first,), _ = await read_events(fresh, 1)
        assert first["id"] == "1"
        await fresh.aclose()
    # The service is fine after clients left mid-stream.
    assert (await alice.get("/v1/stats")).status_code == 200


async def test_the_stats_stream_carries_the_unread_counts_when_they_change(
    stack: BackendStack,
) -> None:
    """The first event has every count (per feed, per category, total); the next ones only
    when a count changed: a new article, a read mark."""
    alice = await reader(stack, {"News": 2, None: 1}, articles=2)
    news = alice.categories["News"]
    first, second, loose = alice.feeds
    lines = open_stream(stack, alice)
    (opening,), _ = await read_events(lines, 1)
    assert opening["data"]["counts"] == {
        "feeds": [
            {"feed_id": first, "category_id": news, "unread": 2},
            {"feed_id": second, "category_id": news, "unread": 2},
            {"feed_id": loose, "category_id": None, "unread": 2},
        ],
        "categories": [{"category_id": news, "unread": 4}],
        "total": 6,
    }
    (quiet,), _ = await read_events(lines, 1)
    assert "counts" not in quiet["data"], "nothing changed: no counts"
    assert quiet["data"]["articles"] == 6
    add_articles(stack, loose, 3)
    read = newest_first(stack, "a.feed_id = %s", (first,))[:1]
    await alice.send("POST", "/v1/articles/read", {"ids": read})
    counts: dict[str, Any] = {}
    for _ in range(5):  # the two changes may land in two events
        (event,), _ = await read_events(lines, 1)
        counts = event["data"].get("counts", counts)
        if counts.get("total") == 8:
            break
    assert counts == (await alice.get("/v1/unread-counts")).json()
    assert [f["unread"] for f in counts["feeds"]] == [1, 2, 5]
    assert event["data"]["articles"] == 9, "a moved count recounts the stats at once"
    assert counts["categories"] == [{"category_id": news, "unread": 3}]
    await lines.aclose()


async def test_the_stream_recounts_the_stats_in_a_while_when_no_count_moves(
    stack: BackendStack,
) -> None:
    """A summary that becomes ready moves no unread count: the stats show it at their next
    recount, not on every event."""
    alice = await reader(stack, {None: 1}, articles=3)
    lines = open_stream(stack, alice)
    (first,), _ = await read_events(lines, 1)
    assert first["data"]["summarised"] == 0
    stack.app(
        "INSERT INTO summaries (article_id, prompt_version, status, summary, engine)"
        " SELECT id, 'v1', 'ready', 'Short.', 'extractive' FROM articles WHERE feed_id = %s"
        " LIMIT 1",
        (alice.feeds[0],),
    )
    (second,), _ = await read_events(lines, 1)
    assert second["data"]["summarised"] == 0, "not recounted yet"
    events, _ = await read_events(lines, int(RECOUNT_S / STATS_EVERY_S) + 3)
    summarised = [event["data"]["summarised"] for event in events]
    assert summarised[-1] == 1
    assert "counts" not in events[-1]["data"]
    await lines.aclose()


async def test_the_stats_stream_needs_a_user_and_shows_only_the_callers(
    stack: BackendStack,
) -> None:
    alice = await reader(stack, {None: 1}, articles=2)
    bob = await reader(stack, {None: 2}, articles=5)
    async with stack.as_service("alt-frontend", "alt-backend") as client:
        anonymous = await client.get("/v1/sse/feeds/stats")
    assert anonymous.status_code == 401
    assert anonymous.headers["cache-control"] == "private, no-store"
    for person, articles in ((alice, 2), (bob, 10)):
        lines = open_stream(stack, person)
        (event,), _ = await read_events(lines, 1)
        assert event["data"]["articles"] == articles
        await lines.aclose()


async def test_lists_and_counts_are_right_on_thousands_of_articles(
    stack: BackendStack,
) -> None:
    """A reader of 20 feeds and 6,000 articles, a fifth read: pages, lists and counts answer
    and add up (how quickly, with a million articles, is bench/api's job)."""
    alice = await reader(stack, {"A": 10, "B": 10}, articles=300)
    articles = newest_first(stack, "a.feed_id = ANY(%s)", (alice.feeds,))
    assert len(articles) == 6000
    stack.app(
        "INSERT INTO read_states (user_id, article_id, feed_id)"
        " SELECT %s, id, feed_id FROM articles WHERE id = ANY(%s)",
        (alice.id, articles[::5]),
    )
    stack.app("ANALYZE articles; ANALYZE read_states; ANALYZE subscriptions")
    unread = [a for i, a in enumerate(articles) if i % 5]
    first = (await alice.get("/v1/articles")).json()
    second = (await alice.get("/v1/articles", cursor=first["next_cursor"])).json()
    assert [item["id"] for item in first["items"] + second["items"]] == unread[:40]
    assert len((await alice.get("/v1/articles", state="all", limit=100)).json()["items"]) == 100
    in_a = (await alice.get("/v1/articles", category_id=alice.categories["A"])).json()["items"]
    assert len(in_a) == 20
    assert {item["feed"]["id"] for item in in_a} <= set(alice.feeds[:10])
    assert (await alice.get("/v1/unread-counts")).json()["total"] == 4800
    assert (await alice.get("/v1/stats")).json()["articles"] == 6000


async def test_the_edge_answers_the_json_routes(stack: BackendStack) -> None:
    """Through the edge, as a browser: counts and stats are private and refuse no cookie."""
    alice = await reader(stack, {None: 1}, articles=1)
    for path in ("/api/v1/unread-counts", "/api/v1/stats", "/api/v1/articles"):
        mine = await alice.browser.call("GET", path)
        assert mine.status_code == 200
        assert mine.headers["cache-control"] == "private, no-store"
        async with httpx.AsyncClient(base_url=stack.edge_url) as nobody:
            assert (await nobody.get(path)).status_code == 401


async def test_the_stream_passes_through_the_edge_as_it_comes(stack: BackendStack) -> None:
    """A browser reads the stream through the edge: events arrive while it stays open, and a
    reconnect with Last-Event-ID continues the numbering."""
    alice = await reader(stack, {None: 1}, articles=1)
    async with alice.browser.http.stream(
        "GET", "/api/v1/sse/feeds/stats", headers={"Last-Event-ID": "41"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "private, no-store"
        events, _ = await read_events(response.aiter_lines(), 2)
    assert [event["id"] for event in events] == ["42", "43"]
    assert events[0]["data"]["articles"] == 1
