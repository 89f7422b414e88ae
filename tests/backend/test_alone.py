"""Handlers and storage functions called alone: imported and run as plain functions against a
real PostgreSQL (a migrated app database, a pool acting as alt-backend's role), with no HTTP
server, auth-service or edge around them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from starlette.requests import Request

from alt.backend import articles, categories, internal, marks, opml, stats, storage, subscriptions
from alt.backend.schemas import (
    CategoryOut,
    CategoryRequest,
    IdsRequest,
    MarkReadRequest,
    SubscriptionChange,
)
from alt.backend.storage.articles import ArticleState
from alt.backend.storage.categories import NameTaken
from alt.config import Settings
from alt.feeds.opml import parse_opml
from alt.platform.db import Pool, autocommit, make_pool, transaction
from alt.platform.egress import FetchLimits
from alt.platform.errors import AltError
from alt.platform.identity import User
from alt.services import SERVICES
from tests.helpers import with_overrides

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
async def pool(settings: Settings, app_db: str) -> AsyncIterator[Pool]:
    """alt-backend's own pool (its role, dict rows) on this module's app database."""
    made = make_pool(with_overrides(settings, DATABASE_URL=app_db), SERVICES["alt-backend"])
    async with made:
        yield made


class Owner:
    """The app database as its owner, to set up feeds and articles and to look."""

    def __init__(self, url: str) -> None:
        self.url = url

    def run(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def feed(self, articles: int) -> tuple[int, list[int]]:
        """A new feed with `articles` articles a minute apart, newest at NOW; its id and the
        articles' ids newest first."""
        (feed,) = self.run(
            "INSERT INTO feeds (url, title) VALUES (%s, 'A feed') RETURNING id",
            (f"https://example.org/{uuid.uuid4().hex}.xml",),
        )
        rows = self.run(
            "INSERT INTO articles (feed_id, entry_hash, title, published_at, content_html)"
            " SELECT %(feed)s, sha256(convert_to(%(feed)s || '/' || g, 'UTF8')), 'No ' || g,"
            "        %(now)s - (g - 1) * interval '1 minute', '<p>Text ' || g || '</p>'"
            "   FROM generate_series(1, %(count)s) g ORDER BY g RETURNING id",
            {"feed": feed["id"], "now": NOW, "count": articles},
        )
        return feed["id"], [row["id"] for row in rows]


@pytest.fixture(scope="module")
def owner(app_db: str) -> Owner:
    return Owner(app_db)


def a_user() -> User:
    return User(id=uuid.uuid4(), role="user", session_id=uuid.uuid4())


async def subscribed(pool: Pool, user: User, feed_id: int, category_id: int | None = None) -> int:
    async with transaction(pool) as conn:
        made = await storage.subscriptions.add(
            conn, user.id, feed_id, category_id=category_id, title=None
        )
    assert made is not None
    return made


async def test_the_article_list_handler_pages_and_follows_marks(pool: Pool, owner: Owner) -> None:
    alice, bob = a_user(), a_user()
    first, first_ids = owner.feed(3)
    second, second_ids = owner.feed(3)
    for feed_id in (first, second):
        await subscribed(pool, alice, feed_id)
    # Newest first across both feeds; equal times broken by the higher id.
    everything = [i for pair in zip(second_ids, first_ids, strict=True) for i in pair]

    page = await articles.list_articles(alice, pool, limit=4)
    assert [item.id for item in page.items] == everything[:4]
    assert page.next_cursor is not None
    rest = await articles.list_articles(alice, pool, limit=4, cursor=page.next_cursor)
    assert [item.id for item in rest.items] == everything[4:]
    assert rest.next_cursor is None

    await marks.read_article(everything[0], alice, pool)
    await marks.star_article(everything[1], alice, pool)
    unread = await articles.list_articles(alice, pool, limit=10)
    assert [item.id for item in unread.items] == everything[1:]
    starred = await articles.list_articles(alice, pool, state=ArticleState.starred)
    assert [(item.id, item.starred, item.read) for item in starred.items] == [
        (everything[1], True, False)
    ]
    only_first = await articles.list_articles(alice, pool, state=ArticleState.all, feed_id=first)
    assert [item.id for item in only_first.items] == first_ids

    # Bob reads no feed: he sees nothing, marks nothing, and a feed of Alice's is not his.
    assert (await articles.list_articles(bob, pool)).items == []
    with pytest.raises(AltError) as missing:
        await marks.read_article(everything[2], bob, pool)
    assert missing.value.status == 404
    with pytest.raises(AltError) as not_his:
        await articles.list_articles(bob, pool, feed_id=first)
    assert not_his.value.status == 404


async def test_bulk_marks_and_mark_read_by_scope(pool: Pool, owner: Owner) -> None:
    alice = a_user()
    feed_id, ids = owner.feed(4)
    _, other_ids = owner.feed(2)
    await subscribed(pool, alice, feed_id)
    stranger = max(ids + other_ids) + 1000

    done = await marks.read_articles(IdsRequest(ids=[ids[0], other_ids[0], stranger]), alice, pool)
    assert (done.done, done.not_found) == ([ids[0]], sorted([other_ids[0], stranger]))

    # Everything a minute or more old in the feed: the three older ones, of which none read.
    before = NOW - timedelta(minutes=1)
    body = MarkReadRequest(scope="feed", feed_id=feed_id, before=before)
    assert (await marks.mark_read(body, alice, pool)).marked == 3
    assert (await marks.mark_read(body, alice, pool)).marked == 0  # idempotent
    counts = await stats.get_unread_counts(alice, pool)
    assert [(f.feed_id, f.unread) for f in counts.feeds] == [(feed_id, 0)]

    undone = await marks.unread_articles(IdsRequest(ids=ids[:2]), alice, pool)
    assert undone.done == sorted(ids[:2])
    assert (await stats.get_unread_counts(alice, pool)).total == 2


async def test_subscription_handlers_change_and_unsubscribe(pool: Pool, owner: Owner) -> None:
    alice, bob = a_user(), a_user()
    kept, kept_ids = owner.feed(2)
    dropped, dropped_ids = owner.feed(2)
    folder = await categories.create_category(CategoryRequest(name="Folder"), alice, pool)
    await subscribed(pool, alice, kept)
    dropping = await subscribed(pool, alice, dropped)
    await marks.read_articles(IdsRequest(ids=kept_ids + dropped_ids), alice, pool)
    await marks.star_article(dropped_ids[0], alice, pool)

    changed = await subscriptions.change_subscription(
        dropping, SubscriptionChange(title="Mine", category_id=folder.id), alice, pool
    )
    assert (changed.title, changed.custom_title) == ("Mine", "Mine")
    assert changed.category == CategoryOut(id=folder.id, name="Folder")
    reset = await subscriptions.change_subscription(
        dropping, SubscriptionChange(title=None), alice, pool
    )
    assert (reset.title, reset.category) == ("A feed", changed.category)  # the folder stays

    for who, which in ((bob, dropping), (alice, dropping + 10_000)):
        with pytest.raises(AltError) as missing:
            await subscriptions.unsubscribe(which, who, pool)
        assert missing.value.status == 404
    await subscriptions.unsubscribe(dropping, alice, pool)

    # The dropped feed's marks went with it; the kept feed's stayed.
    left = owner.run(
        "SELECT article_id FROM read_states WHERE user_id = %(u)s"
        " UNION ALL SELECT article_id FROM favorites WHERE user_id = %(u)s",
        {"u": alice.id},
    )
    assert sorted(row["article_id"] for row in left) == sorted(kept_ids)
    page = await subscriptions.list_subscriptions(alice, pool)
    assert [s.feed.id for s in page.subscriptions] == [kept]


async def test_a_name_clash_in_a_rename_leaves_the_transaction_usable(pool: Pool) -> None:
    """`rename` puts its update in a savepoint of the caller's transaction: after a clash the
    transaction goes on, and what it did before commits."""
    user = a_user()
    async with transaction(pool) as conn:
        news = await storage.categories.create(conn, user.id, "News")
        other = await storage.categories.create(conn, user.id, "Other")
        with pytest.raises(NameTaken) as taken:
            await storage.categories.rename(conn, user.id, other["id"], "NEWS")
        assert taken.value.existing == news
        assert await storage.categories.rename(conn, user.id, other["id"], "Later") == {
            "id": other["id"],
            "name": "Later",
        }
    async with autocommit(pool) as conn:
        names = [row["name"] for row in await storage.categories.with_counts(conn, user.id)]
    assert names == ["Later", "News"]

    with pytest.raises(AltError) as clash:
        await categories.rename_category(news["id"], CategoryRequest(name="later"), user, pool)
    assert (clash.value.status, clash.value.details) == (409, {"category_id": other["id"]})


async def test_opml_import_alone_then_export(pool: Pool) -> None:
    """The import in one transaction, as the handler runs it, and the export handler."""
    user = a_user()
    parsed = parse_opml(
        b'<opml version="2.0"><body>'
        b'<outline text="Tech"><outline text="One" xmlUrl="https://one.example/feed"/>'
        b'<outline text="Again" xmlUrl="https://one.example/feed#top"/></outline>'
        b'<outline text="Two" xmlUrl="https://two.example/rss"/>'
        b'<outline text="Inside" xmlUrl="http://10.0.0.1/feed"/>'
        b"</body></opml>"
    )
    async with transaction(pool) as conn:
        report = await opml.import_opml(conn, user.id, parsed, FetchLimits())
    assert [(a.url, a.title, a.category) for a in report.added] == [
        ("https://one.example/feed", "One", "Tech"),
        ("https://two.example/rss", "Two", None),
    ]
    assert [s.reason for s in report.skipped] == ["duplicate: already in this file"]
    assert [f.url for f in report.failed] == ["http://10.0.0.1/feed"]

    async with transaction(pool) as conn:
        again = await opml.import_opml(conn, user.id, parsed, FetchLimits())
    assert again.added == []
    assert [s.reason for s in again.skipped][-2:] == ["already subscribed"] * 2

    exported = (await opml.export_file(user, pool)).body
    assert isinstance(exported, bytes)
    assert [(s.xml_url, s.category) for s in parse_opml(exported).subscriptions] == [
        ("https://two.example/rss", None),
        ("https://one.example/feed", "Tech"),
    ]


async def test_a_purge_takes_every_row_of_the_user_and_only_theirs(
    pool: Pool, owner: Owner
) -> None:
    leaving, staying = a_user(), a_user()
    feed_id, ids = owner.feed(2)
    for user in (leaving, staying):
        async with transaction(pool) as conn:
            category = await storage.categories.create(conn, user.id, "Folder")
        await subscribed(pool, user, feed_id, category["id"])
        await marks.read_articles(IdsRequest(ids=ids), user, pool)
        await marks.star_article(ids[0], user, pool)

    def asked_by(caller: str) -> Request:
        return Request({"type": "http", "state": {"caller": caller}})

    with pytest.raises(AltError) as refused:
        await internal.purge_user(leaving.id, asked_by("alt-frontend"), pool)
    assert refused.value.status == 403
    assert (await subscriptions.list_subscriptions(leaving, pool)).subscriptions != []

    async with transaction(pool) as conn:
        counts = await storage.purge.user_data(conn, leaving.id)
    assert counts == {
        "favorites": 1,
        "read_states": 2,
        "subscriptions": 1,
        "categories": 1,
        "inoreader_accounts": 0,
    }
    await internal.purge_user(leaving.id, asked_by("auth-service"), pool)  # again: fine
    async with transaction(pool) as conn:
        assert set((await storage.purge.user_data(conn, leaving.id)).values()) == {0}
    assert (await subscriptions.list_subscriptions(leaving, pool)).subscriptions == []
    assert (await stats.get_stats(staying, pool)).feeds == 1
    assert len((await categories.list_categories(staying, pool)).categories) == 1
