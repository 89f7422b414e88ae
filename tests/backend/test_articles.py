"""Article lists, detail, read state and stars, against the real services on loopback.

Feeds are made as rows a fetch would have left (active, fetched, not due again), so that
subscribing needs no discovery and the fetcher beside the tests leaves them alone; their
articles are inserted the way ingestion inserts them. Everything else goes through the edge like
a browser.
"""

from __future__ import annotations

import base64
import itertools
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from alt.backend.articles import decode_cursor, encode_cursor
from alt.platform.errors import AltError
from tests.auth.conftest import Browser
from tests.backend.conftest import BackendStack

NOW = datetime.now(UTC).replace(microsecond=0)
_names = itertools.count()


def make_feed(stack: BackendStack, name: str) -> int:
    """A feed as a successful fetch leaves it, not due for a month."""
    (row,) = stack.app(
        "INSERT INTO feeds (url, title, last_checked_at, last_success_at, next_check_at)"
        " VALUES (%s, %s, now(), now(), now() + interval '30 days') RETURNING id",
        (stack.feeds.url(f"/feeds/{name}.xml"), f"Feed {name}"),
    )
    feed_id: int = row["id"]
    return feed_id


def add_articles(
    stack: BackendStack,
    feed_id: int,
    count: int,
    *,
    newest: datetime = NOW,
    step: timedelta = timedelta(minutes=1),
    tag: str | None = None,
) -> list[int]:
    """`count` articles, the first at `newest` and each next one `step` older (a zero step
    gives them all the same time); their ids in insertion order."""
    tag = tag or f"a{next(_names)}-{uuid.uuid4().hex[:8]}"
    rows = stack.app(
        "INSERT INTO articles (feed_id, entry_hash, title, url, author, published_at,"
        " content_html)"
        " SELECT %(feed)s, sha256(convert_to(%(tag)s || '/' || g, 'UTF8')),"
        "        %(tag)s || ' #' || g, 'https://example.org/' || %(tag)s || '/' || g, 'Ann',"
        "        %(newest)s - (g - 1) * %(step)s,"
        "        '<p>Text <b>of</b> ' || %(tag)s || ' #' || g || '</p><script>x()</script>'"
        "   FROM generate_series(1, %(count)s) g ORDER BY g RETURNING id",
        {"feed": feed_id, "tag": tag, "newest": newest, "step": step, "count": count},
    )
    return [row["id"] for row in rows]


@dataclass
class Reader:
    browser: Browser
    id: uuid.UUID
    feeds: list[int] = field(default_factory=list)
    categories: dict[str, int] = field(default_factory=dict)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.browser.call("GET", "/api" + path, params=params)

    async def send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.browser.call(method, "/api" + path, body)

    async def subscribe(self, feed_id: int, url: str, category: str | None = None) -> None:
        category_id = None
        if category is not None:
            if category not in self.categories:
                made = await self.send("POST", "/v1/categories", {"name": category})
                assert made.status_code == 201, made.text
                self.categories[category] = made.json()["id"]
            category_id = self.categories[category]
        made = await self.send(
            "POST", "/v1/subscriptions", {"url": url, "category_id": category_id}
        )
        assert made.status_code == 201, made.text
        assert made.json()["feed"]["id"] == feed_id
        self.feeds.append(feed_id)

    async def all_pages(self, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            extra = {"cursor": cursor} if cursor else {}
            page = await self.get("/v1/articles", **params, **extra)
            assert page.status_code == 200, page.text
            items += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return items


async def reader(stack: BackendStack, layout: dict[str | None, int], articles: int = 5) -> Reader:
    """A new user subscribed to new feeds: `layout` maps a category name (None: no category)
    to how many feeds it holds; each feed gets `articles` articles."""
    name = f"reader{next(_names)}-{uuid.uuid4().hex[:6]}"
    browser, user_id = await stack.user(f"{name}@example.org")
    person = Reader(browser, user_id)
    for category, feeds in layout.items():
        for _ in range(feeds):
            feed_name = f"{name}-{next(_names)}"
            feed_id = make_feed(stack, feed_name)
            add_articles(stack, feed_id, articles)
            await person.subscribe(feed_id, stack.feeds.url(f"/feeds/{feed_name}.xml"), category)
    return person


def ids(items: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for item in items]


def newest_first(stack: BackendStack, where: str, params: Any) -> list[int]:
    rows = stack.app(
        f"SELECT a.id FROM articles a WHERE {where} ORDER BY a.published_at DESC, a.id DESC",  # noqa: S608
        params,
    )
    return [row["id"] for row in rows]


async def test_lists_by_state_feed_and_category(stack: BackendStack) -> None:
    alice = await reader(stack, {"News": 2, None: 1}, articles=6)
    news_feeds, loose = alice.feeds[:2], alice.feeds[2]
    everything = newest_first(stack, "a.feed_id = ANY(%s)", (alice.feeds,))
    assert len(everything) == 18

    unread = await alice.all_pages(limit=7)
    assert ids(unread) == everything
    first = unread[0]
    assert set(first) == {
        "id", "feed", "title", "url", "author", "published_at", "read", "starred", "excerpt",
    }  # fmt: skip
    assert first["feed"]["title"].startswith("Feed ")
    assert first["author"] == "Ann"
    assert first["excerpt"].startswith("Text of ")
    assert "x()" not in first["excerpt"]
    assert (first["read"], first["starred"]) == (False, False)

    read_ids, starred_ids = everything[1:4], [everything[2], everything[9]]
    for article in read_ids:
        assert (await alice.send("PUT", f"/v1/articles/{article}/read")).status_code == 204
    for article in starred_ids:
        assert (await alice.send("PUT", f"/v1/articles/{article}/star")).status_code == 204

    assert ids(await alice.all_pages(state="unread")) == [
        i for i in everything if i not in read_ids
    ]
    read = await alice.all_pages(state="read", limit=2)
    assert ids(read) == read_ids
    assert all(item["read"] for item in read)
    starred = await alice.all_pages(state="starred", limit=1)
    assert ids(starred) == starred_ids
    assert all(item["starred"] for item in starred)
    assert ids(await alice.all_pages(state="all")) == everything

    by_feed = await alice.all_pages(state="all", feed_id=loose, limit=4)
    assert ids(by_feed) == newest_first(stack, "a.feed_id = %s", (loose,))
    in_news = await alice.all_pages(state="all", category_id=alice.categories["News"], limit=5)
    assert ids(in_news) == newest_first(stack, "a.feed_id = ANY(%s)", (news_feeds,))
    unread_news = await alice.all_pages(category_id=alice.categories["News"])
    assert ids(unread_news) == [i for i in ids(in_news) if i not in read_ids]

    # Only the caller's feeds: another reader's articles never appear.
    bob = await reader(stack, {None: 1})
    assert not set(ids(await alice.all_pages(state="all"))) & set(
        newest_first(stack, "a.feed_id = %s", (bob.feeds[0],))
    )


async def test_the_stored_excerpt_is_served_and_old_rows_get_one_made(
    stack: BackendStack,
) -> None:
    alice = await reader(stack, {None: 1}, articles=2)
    newer, older = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))
    # As the pre-processor stores it; the older row has none, as rows stored before 0006.
    stack.app("UPDATE articles SET excerpt = 'Stored excerpt' WHERE id = %s", (newer,))
    items = {item["id"]: item["excerpt"] for item in await alice.all_pages()}
    assert items[newer] == "Stored excerpt"
    assert items[older].startswith("Text of ")


async def test_pages_default_to_20_and_refuse_bad_values(stack: BackendStack) -> None:
    alice = await reader(stack, {None: 1}, articles=45)
    bob = await reader(stack, {"Bob's": 1})
    page = await alice.get("/v1/articles")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "private, no-store"
    assert len(page.json()["items"]) == 20
    assert page.json()["next_cursor"]
    assert len((await alice.get("/v1/articles", limit=100)).json()["items"]) == 45
    assert (await alice.get("/v1/articles", limit=45)).json()["next_cursor"] is None

    cursor = page.json()["next_cursor"]
    bad = [
        {"limit": 101},
        {"limit": 0},
        {"limit": "ten"},
        {"state": "archived"},
        {"cursor": "not-a-cursor"},
        {"cursor": cursor + "!"},
        {"cursor": base64.urlsafe_b64encode(b"k2:1:1").decode()},
        {"cursor": base64.urlsafe_b64encode(b"k1:1:0").decode()},
        {"cursor": base64.urlsafe_b64encode(b"k1:99999999999999999999:1").decode()},
        {"cursor": "x" * 65},
        {"feed_id": 0},
        {"category_id": "abc"},
    ]
    for params in bad:
        answer = await alice.get("/v1/articles", **params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["code"] == "validation_failed"
        assert answer.json()["message"]
        assert answer.headers["cache-control"] == "private, no-store"
    # Bob's feed or folder, and none at all, answer alike.
    for params in (
        {"feed_id": bob.feeds[0]},
        {"feed_id": 2**62},
        {"category_id": bob.categories["Bob's"]},
        {"category_id": 2**62},
    ):
        answer = await alice.get("/v1/articles", **params)
        assert answer.status_code == 404, (params, answer.text)
        assert answer.json()["code"] == "not_found"


async def test_paging_while_articles_arrive_has_no_duplicates_and_no_gaps(
    stack: BackendStack,
) -> None:
    """REL-09: 1,000 articles paged by 50 while 200 more arrive, many with identical times."""
    alice = await reader(stack, {None: 2}, articles=0)
    feed_a, feed_b = alice.feeds
    start = NOW - timedelta(days=1)
    # Runs of ten articles share one timestamp, in two feeds, so ties are the rule.
    before = []
    for run in range(50):
        at = start - timedelta(minutes=run)
        before += add_articles(stack, feed_a, 10, newest=at, step=timedelta(0))
        before += add_articles(stack, feed_b, 10, newest=at, step=timedelta(0))
    assert len(before) == 1000
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"state": "all", "limit": 50}
        if cursor:
            params["cursor"] = cursor
        page = (await alice.get("/v1/articles", **params)).json()
        seen += ids(page["items"])
        pages += 1
        if pages <= 20:
            # New articles at the time of the page just read (ties with it), and newer ones.
            last_at = datetime.fromisoformat(page["items"][-1]["published_at"])
            add_articles(stack, feed_a, 5, newest=last_at, step=timedelta(0))
            add_articles(stack, feed_b, 5, newest=NOW, step=timedelta(0))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a duplicate across pages"
    assert set(before) <= set(seen), "an article that was there all along was skipped"
    times = {
        row["id"]: row["published_at"]
        for row in stack.app("SELECT id, published_at FROM articles WHERE id = ANY(%s)", (seen,))
    }
    keys = [(times[i], i) for i in seen]
    assert keys == sorted(keys, reverse=True)


@pytest.mark.parametrize("limit", [1, 5, 20])
async def test_unread_and_read_pages_are_exact_however_the_reads_lie(
    stack: BackendStack, limit: int
) -> None:
    """A page comes from the newest articles when they hold enough of the asked state, else
    from every feed: both give the same pages, whichever way the read ones lie."""
    alice = await reader(stack, {"News": 2, None: 1}, articles=40)
    everything = newest_first(stack, "a.feed_id = ANY(%s)", (alice.feeds,))
    in_news = set(newest_first(stack, "a.feed_id = ANY(%s)", (alice.feeds[:2],)))
    # The newest 50 read (a reader who keeps up), then every third of the rest.
    read = everything[:50] + everything[50::3]
    marked = await alice.send("POST", "/v1/articles/read", {"ids": read})
    assert marked.status_code == 200, marked.text
    unread = [i for i in everything if i not in read]
    read_newest_first = [i for i in everything if i in read]

    assert ids(await alice.all_pages(limit=limit)) == unread
    assert ids(await alice.all_pages(state="read", limit=limit)) == read_newest_first
    news = await alice.all_pages(limit=limit, category_id=alice.categories["News"])
    assert ids(news) == [i for i in unread if i in in_news]
    # Nothing read among the newest: the first pages come from them.
    unmarked = await alice.send("POST", "/v1/articles/unread", {"ids": everything[:50]})
    assert unmarked.status_code == 200, unmarked.text
    assert ids(await alice.all_pages(limit=limit)) == everything[:50] + unread


async def test_detail_has_content_full_text_summary_and_marks(stack: BackendStack) -> None:
    alice = await reader(stack, {None: 1}, articles=2)
    bob = await reader(stack, {None: 1}, articles=1)
    article = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))[0]
    bare = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))[1]
    stack.app(
        "UPDATE articles SET enclosures = %s::jsonb WHERE id = %s",
        ('[{"url": "https://example.org/a.mp3", "type": "audio/mpeg", "length": 12}]', article),
    )
    stack.app(
        "INSERT INTO article_contents (article_id, status, text, html, metadata, extracted_at)"
        " VALUES (%s, 'extracted', 'The full text.', '<p>The full text.</p>',"
        ' \'{"image": "https://example.org/i.png"}\', now())',
        (article,),
    )
    stack.app(
        "INSERT INTO summaries (article_id, prompt_version, status, summary, language, engine,"
        " model, score, grounded, extractive)"
        " VALUES (%s, 'v1', 'ready', 'In short.', 'en', 'ollama', 'gemma', 24, true, false),"
        "        (%s, 'v0', 'failed', NULL, NULL, NULL, NULL, NULL, NULL, false)",
        (article, article),
    )
    await alice.send("PUT", f"/v1/articles/{article}/star")
    answer = await alice.get(f"/v1/articles/{article}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "private, no-store"
    body = answer.json()
    assert body["id"] == article
    assert body["feed"]["id"] == alice.feeds[0]
    assert body["author"] == "Ann"
    assert body["url"].startswith("https://example.org/")
    assert "<p>Text <b>of</b>" in body["content_html"]
    assert body["full_text"]["status"] == "extracted"
    assert body["full_text"]["text"] == "The full text."
    assert body["full_text"]["html"] == "<p>The full text.</p>"
    assert body["full_text"]["metadata"] == {"image": "https://example.org/i.png"}
    summary = body["summary"]
    assert {k: summary[k] for k in ("text", "score", "engine", "model", "grounded")} == {
        "text": "In short.",
        "score": 24,
        "engine": "ollama",
        "model": "gemma",
        "grounded": True,
    }
    assert summary["extractive"] is False
    assert summary["created_at"]
    assert body["enclosures"] == [
        {"url": "https://example.org/a.mp3", "type": "audio/mpeg", "length": 12}
    ]
    assert (body["read"], body["starred"]) == (False, True)
    for key in ("published_at", "fetched_at", "updated_at"):
        assert datetime.fromisoformat(body[key])

    plain = (await alice.get(f"/v1/articles/{bare}")).json()
    assert (plain["full_text"], plain["summary"]) == (None, None)

    bobs = newest_first(stack, "a.feed_id = %s", (bob.feeds[0],))[0]
    theirs = await alice.get(f"/v1/articles/{bobs}")
    missing = await alice.get(f"/v1/articles/{2**62}")
    assert theirs.status_code == 404
    assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())
    assert (await alice.get("/v1/articles/abc")).status_code == 404
    assert (await alice.get(f"/v1/articles/{2**63}")).status_code == 422


async def test_read_unread_and_star_are_idempotent(stack: BackendStack) -> None:
    alice = await reader(stack, {None: 1}, articles=3)
    article = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))[0]

    def marks() -> tuple[int, int]:
        read = stack.app(
            "SELECT count(*) AS n FROM read_states WHERE user_id = %s AND article_id = %s",
            (alice.id, article),
        )
        starred = stack.app(
            "SELECT count(*) AS n FROM favorites WHERE user_id = %s AND article_id = %s",
            (alice.id, article),
        )
        return read[0]["n"], starred[0]["n"]

    for method, path, expected in [
        ("PUT", "read", (1, 0)),
        ("PUT", "read", (1, 0)),
        ("PUT", "star", (1, 1)),
        ("PUT", "star", (1, 1)),
        ("DELETE", "read", (0, 1)),
        ("DELETE", "read", (0, 1)),
        ("DELETE", "star", (0, 0)),
        ("DELETE", "star", (0, 0)),
    ]:
        answer = await alice.send(method, f"/v1/articles/{article}/{path}")
        assert answer.status_code == 204, (method, path, answer.text)
        assert answer.headers["cache-control"] == "private, no-store"
        assert marks() == expected, (method, path)
        detail = (await alice.get(f"/v1/articles/{article}")).json()
        assert (int(detail["read"]), int(detail["starred"])) == expected


async def test_bulk_read_and_unread(stack: BackendStack) -> None:
    alice = await reader(stack, {None: 1}, articles=5)
    bob = await reader(stack, {None: 1}, articles=2)
    mine = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))
    bobs = newest_first(stack, "a.feed_id = %s", (bob.feeds[0],))
    bob_before = stack.rows_of(bob.id)
    asked = [*mine[:3], mine[0], bobs[0], 2**62]
    for _ in range(2):
        answer = await alice.send("POST", "/v1/articles/read", {"ids": asked})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "done": sorted(mine[:3]),
            "not_found": sorted([bobs[0], 2**62]),
        }
    unread = ids(await alice.all_pages())
    assert unread == mine[3:]
    answer = await alice.send("POST", "/v1/articles/unread", {"ids": [mine[0], bobs[1]]})
    assert answer.json() == {"done": [mine[0]], "not_found": [bobs[1]]}
    assert ids(await alice.all_pages()) == [mine[0], *mine[3:]]
    assert stack.rows_of(bob.id) == bob_before

    for body in (
        {"ids": []},
        {"ids": list(range(1, 1002))},
        {"ids": [0]},
        {"ids": ["x"]},
        {"ids": [1], "more": 1},
        {},
    ):
        answer = await alice.send("POST", "/v1/articles/read", body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["code"] == "validation_failed"
    assert (
        await alice.send("POST", "/v1/articles/unread", {"ids": list(range(1, 1001))})
    ).status_code == 200


async def test_mark_read_older_than_in_each_scope(stack: BackendStack) -> None:
    alice = await reader(stack, {"News": 2, None: 1}, articles=10)
    bob = await reader(stack, {"Bob's": 1}, articles=3)
    news = alice.categories["News"]
    # Articles are a minute apart from NOW back; "before" cuts each feed in half.
    cut = NOW - timedelta(minutes=5)

    def unread_of(feed_id: int) -> list[int]:
        return [
            row["id"]
            for row in stack.app(
                "SELECT id FROM articles a WHERE feed_id = %s AND NOT EXISTS (SELECT 1 FROM"
                " read_states r WHERE r.user_id = %s AND r.article_id = a.id) ORDER BY id",
                (feed_id, alice.id),
            )
        ]

    def newer_than_cut(feed_id: int) -> list[int]:
        return [
            row["id"]
            for row in stack.app(
                "SELECT id FROM articles WHERE feed_id = %s AND published_at > %s ORDER BY id",
                (feed_id, cut),
            )
        ]

    bob_before = stack.rows_of(bob.id)
    body: dict[str, Any] = {"scope": "feed", "feed_id": alice.feeds[0], "before": cut.isoformat()}
    answer = await alice.send("POST", "/v1/articles/mark-read", body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"marked": 5}  # NOW-5 min (inclusive) to NOW-9 min
    assert unread_of(alice.feeds[0]) == newer_than_cut(alice.feeds[0])
    assert len(unread_of(alice.feeds[1])) == 10
    again = await alice.send("POST", "/v1/articles/mark-read", body)
    assert again.json() == {"marked": 0}

    body = {"scope": "category", "category_id": news, "before": cut.isoformat()}
    assert (await alice.send("POST", "/v1/articles/mark-read", body)).json() == {"marked": 5}
    assert unread_of(alice.feeds[1]) == newer_than_cut(alice.feeds[1])
    assert len(unread_of(alice.feeds[2])) == 10

    body = {"scope": "all", "before": (NOW + timedelta(minutes=1)).isoformat()}
    assert (await alice.send("POST", "/v1/articles/mark-read", body)).json() == {"marked": 20}
    assert all(not unread_of(feed) for feed in alice.feeds)
    assert stack.rows_of(bob.id) == bob_before

    # Bob's feed and folder answer like missing ones, and nothing of Bob's changes.
    for body in (
        {"scope": "feed", "feed_id": bob.feeds[0], "before": NOW.isoformat()},
        {"scope": "feed", "feed_id": 2**62, "before": NOW.isoformat()},
        {"scope": "category", "category_id": bob.categories["Bob's"], "before": NOW.isoformat()},
        {"scope": "category", "category_id": 2**62, "before": NOW.isoformat()},
    ):
        answer = await alice.send("POST", "/v1/articles/mark-read", body)
        assert answer.status_code == 404, (body, answer.text)
        assert answer.json()["code"] == "not_found"
    assert stack.rows_of(bob.id) == bob_before

    for body in (
        {"scope": "feed", "before": NOW.isoformat()},
        {"scope": "category", "feed_id": alice.feeds[0], "before": NOW.isoformat()},
        {"scope": "all", "feed_id": alice.feeds[0], "before": NOW.isoformat()},
        {"scope": "all", "before": "2026-01-01T00:00:00"},  # no time zone
        {"scope": "all", "before": "yesterday"},
        {"scope": "everything", "before": NOW.isoformat()},
        {"scope": "all"},
    ):
        answer = await alice.send("POST", "/v1/articles/mark-read", body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["code"] == "validation_failed"
        assert answer.json()["message"].startswith("The request is not valid")


@pytest.mark.parametrize("state", ["unread", "read", "starred", "all"])
async def test_every_state_lists_only_the_callers_marks(stack: BackendStack, state: str) -> None:
    """Two readers of one feed: each list shows the caller's own read and starred marks."""
    alice = await reader(stack, {None: 1}, articles=4)
    bob_browser, bob_id = await stack.user(f"bob-{uuid.uuid4().hex[:8]}@example.org")
    bob = Reader(bob_browser, bob_id)
    feed = alice.feeds[0]
    url = stack.app("SELECT url FROM feeds WHERE id = %s", (feed,))[0]["url"]
    await bob.subscribe(feed, url)
    articles = newest_first(stack, "a.feed_id = %s", (feed,))
    await bob.send("POST", "/v1/articles/read", {"ids": articles[:2]})
    await bob.send("PUT", f"/v1/articles/{articles[0]}/star")
    await alice.send("PUT", f"/v1/articles/{articles[3]}/read")
    await alice.send("PUT", f"/v1/articles/{articles[3]}/star")
    expected = {
        "unread": articles[:3],
        "read": articles[3:],
        "starred": articles[3:],
        "all": articles,
    }[state]
    listed = await alice.all_pages(state=state)
    assert ids(listed) == expected
    for item in listed:
        assert item["read"] == (item["id"] == articles[3])
        assert item["starred"] == (item["id"] == articles[3])


async def test_detail_loads_every_image_through_the_signed_proxy(stack: BackendStack) -> None:
    from alt.backend.images import image_key, verify

    alice = await reader(stack, {None: 1}, articles=1)
    article = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))[0]
    stack.app(
        "INSERT INTO article_contents (article_id, status, text, html, extracted_at) VALUES"
        " (%s, 'extracted', 'Pictured.', '<p>Pictured.</p><img src=\"https://img.example/a.png\""
        ' srcset="https://img.example/a2.png 2x, javascript:alert(1) 3x">\', now())',
        (article,),
    )
    body = (await alice.get(f"/v1/articles/{article}")).json()
    html = body["full_text"]["html"]
    assert "img.example" not in html
    assert "javascript:" not in html
    paths = re.findall(r"/api/v1/images/([\w-]+)/([\w-]+)", html)
    assert len(paths) == 2
    key = image_key(stack.settings)
    assert {verify(key, signature, encoded) for signature, encoded in paths} == {
        "https://img.example/a.png",
        "https://img.example/a2.png",
    }


@pytest.mark.parametrize("article_id", range(1, 2000, 37))
def test_a_cursor_with_anything_added_is_refused(article_id: int) -> None:
    """Cursors of every length mod 4 (the id's digits vary it): a character outside the
    alphabet, appended or inside, makes it no cursor, whatever base64 padding follows."""
    cursor = encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), article_id)
    assert decode_cursor(cursor)[1] == article_id
    for bad in (cursor + "!", "!" + cursor, cursor[:3] + "." + cursor[3:], cursor + " "):
        with pytest.raises(AltError):
            decode_cursor(bad)
