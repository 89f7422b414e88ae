"""Articles: lists by state, feed and category, with keyset pagination, and the detail.

The caller sees the articles of the feeds they subscribe to, nothing else: every statement joins
the caller's subscriptions by user id, so another user's article is simply not found (404).

Lists are newest first on the unique key (published_at, id); the cursor is that key of the last
item, opaque to clients. A page is picked per subscribed feed from
`articles_feed_published_idx` (each feed gives at most a page's worth of rows past the cursor)
and merged, so the work grows with the page size and the number of feeds, not with the number of
articles. Unread and read lists first filter only the few newest candidates of that merge and
fall back to the full merge when those do not make a page (see `_PAGE_FROM_CANDIDATES`). New
articles, whatever their dates, never shift a page: no duplicates and no gaps.
Tags, story groups and search come with their own routes; the list is the place their filters
will join.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg.types.numeric import Int8

from alt.backend.article_models import (
    ArticleDetail,
    ArticleFeed,
    ArticleItem,
    ArticlePage,
    FullText,
    Ref,
    SummaryOut,
)
from alt.backend.images import image_key, proxy_images
from alt.backend.subscriptions import check_category
from alt.backend.web import (
    PG_BIGINT_MAX,
    Context,
    CurrentUser,
    ObjectId,
    PrivateRoute,
    connection,
    not_found,
)
from alt.feeds.excerpt import EXCERPT_SOURCE_CHARS, excerpt
from alt.platform.errors import AltError

PAGE_DEFAULT = 20
PAGE_MAX = 100
MAX_CURSOR_CHARS = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR_VERSION = "k1"


class ArticleState(StrEnum):
    unread = "unread"
    read = "read"
    starred = "starred"
    all = "all"


# ---------------------------------------------------------------------------------------------
# Cursor: the (published_at, id) of the last item of a page.
# ---------------------------------------------------------------------------------------------


def encode_cursor(published_at: datetime, article_id: int) -> str:
    micros = (published_at - _EPOCH) // timedelta(microseconds=1)
    raw = f"{_CURSOR_VERSION}:{micros}:{article_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> AltError:
    return AltError(
        422,
        "validation_failed",
        "The cursor is not valid: pass the `next_cursor` of the previous page unchanged.",
        [{"field": "cursor", "problem": "not a cursor this API gave out"}],
    )


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, micros_text, id_text = raw.split(":")
        micros, article_id = int(micros_text), int(id_text)
        if version != _CURSOR_VERSION or not 1 <= article_id <= PG_BIGINT_MAX:
            raise ValueError(version)
        return _EPOCH + timedelta(microseconds=micros), article_id
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise _bad_cursor() from None


# ---------------------------------------------------------------------------------------------
# SQL
# ---------------------------------------------------------------------------------------------

# The cursor goes in through scalar subqueries, so that the planner treats it as unknown in
# every plan: the generic plan of the prepared statement is then as good as one made for the
# cursor at hand, and PostgreSQL keeps it instead of planning every page anew (planning cost
# about half of running the page). It is still an index range condition.
_KEYSET = """AND (a.published_at, a.id)
             < ((SELECT %(at)s::timestamptz), (SELECT %(after_id)s::bigint))"""
_UNREAD = """AND NOT EXISTS (SELECT 1 FROM read_states r
                      WHERE r.user_id = %(user_id)s AND r.article_id = a.id)"""
_READ = """AND EXISTS (SELECT 1 FROM read_states r
                  WHERE r.user_id = %(user_id)s AND r.article_id = a.id)"""
_BY_FEED = "AND s.feed_id = %(feed_id)s"
_BY_CATEGORY = "AND s.category_id = %(category_id)s"

# One page's worth per subscribed feed (an index range scan each), merged.
_PAGE_PER_FEED = """
SELECT p.id, p.published_at
  FROM subscriptions s
 CROSS JOIN LATERAL (
       SELECT a.id, a.published_at FROM articles a
        WHERE a.feed_id = s.feed_id {keyset} {state}
        ORDER BY a.published_at DESC, a.id DESC
        LIMIT {rows}) p
 WHERE s.user_id = %(user_id)s {scope}
 ORDER BY p.published_at DESC, p.id DESC
 LIMIT {rows}
"""

# The merge above reads a page's worth of the caller's state per feed, each row checked
# against read_states: with a hundred feeds, two thousand lookups for a page of twenty. So
# first take only the `candidates` newest articles past the cursor from all the caller's feeds
# (index-only: no state looked at; every article newer than the last candidate is among
# them, since no feed has more than that many newer ones) and filter those. When that fills
# the page (one row more than it, as always), the page is exact; otherwise (most of the newest
# are read, say, or the list ends) the merge runs as a second statement.
_PAGE_FROM_CANDIDATES = """
WITH newest AS (
       SELECT p.id, p.published_at
         FROM subscriptions s
        CROSS JOIN LATERAL (
              SELECT a.id, a.published_at FROM articles a
               WHERE a.feed_id = s.feed_id {keyset}
               ORDER BY a.published_at DESC, a.id DESC
               LIMIT {candidates}) p
        WHERE s.user_id = %(user_id)s {scope}
        ORDER BY p.published_at DESC, p.id DESC
        LIMIT {candidates})
SELECT a.id, a.published_at FROM newest a
 WHERE true {state}
 ORDER BY a.published_at DESC, a.id DESC
 LIMIT {rows}
"""
# Candidates per item of the page: enough when at least half of the newest articles are
# unread.
CANDIDATES_PER_ITEM = 2

# Stars are few: start from them.
_PAGE_STARRED = """
SELECT a.id, a.published_at
  FROM favorites fv
  JOIN articles a ON a.id = fv.article_id
  JOIN subscriptions s ON s.user_id = fv.user_id AND s.feed_id = a.feed_id
 WHERE fv.user_id = %(user_id)s {keyset} {scope}
 ORDER BY a.published_at DESC, a.id DESC
 LIMIT {rows}
"""

_ITEMS = """
WITH page AS ({page})
SELECT a.id, a.title, a.url, a.author, a.published_at, a.excerpt,
       CASE WHEN a.excerpt IS NULL THEN left(a.content_html, {excerpt_source}) END
         AS content_head,
       f.id AS feed_id, coalesce(s.title, nullif(f.title, ''), f.url) AS feed_title,
       EXISTS (SELECT 1 FROM read_states r
                WHERE r.user_id = %(user_id)s AND r.article_id = a.id) AS read,
       EXISTS (SELECT 1 FROM favorites fv
                WHERE fv.user_id = %(user_id)s AND fv.article_id = a.id) AS starred
  FROM page
  JOIN articles a ON a.id = page.id
  JOIN subscriptions s ON s.user_id = %(user_id)s AND s.feed_id = a.feed_id
  JOIN feeds f ON f.id = a.feed_id
 ORDER BY a.published_at DESC, a.id DESC
"""

_DETAIL = """
SELECT a.id, a.title, a.url, a.author, a.published_at, a.fetched_at, a.updated_at, a.language,
       a.content_html, a.enclosures,
       f.id AS feed_id, coalesce(s.title, nullif(f.title, ''), f.url) AS feed_title,
       c.status AS full_status, c.html AS full_html, c.text AS full_text,
       c.metadata AS full_metadata, c.extracted_at AS full_extracted_at,
       sm.summary, sm.language AS summary_language, sm.score, sm.engine, sm.model, sm.grounded,
       sm.extractive, sm.created_at AS summary_created_at,
       EXISTS (SELECT 1 FROM read_states r
                WHERE r.user_id = %(user_id)s AND r.article_id = a.id) AS read,
       EXISTS (SELECT 1 FROM favorites fv
                WHERE fv.user_id = %(user_id)s AND fv.article_id = a.id) AS starred
  FROM articles a
  JOIN subscriptions s ON s.user_id = %(user_id)s AND s.feed_id = a.feed_id
  JOIN feeds f ON f.id = a.feed_id
  LEFT JOIN article_contents c ON c.article_id = a.id
  LEFT JOIN LATERAL (
       SELECT su.summary, su.language, su.score, su.engine, su.model, su.grounded,
              su.extractive, su.created_at
         FROM summaries su
        WHERE su.article_id = a.id AND su.status = 'ready'
        ORDER BY su.updated_at DESC, su.id DESC
        LIMIT 1) sm ON true
 WHERE a.id = %(id)s
"""

_SUBSCRIBED_FEED = "SELECT 1 FROM subscriptions WHERE user_id = %(user_id)s AND feed_id = %(id)s"


async def check_feed(conn: AsyncConnection[DictRow], user_id: Any, feed_id: int) -> None:
    """404 unless the caller subscribes to the feed."""
    found = await (
        await conn.execute(_SUBSCRIBED_FEED, {"user_id": user_id, "id": feed_id})
    ).fetchone()
    if found is None:
        raise not_found("feed")


def list_queries(
    state: ArticleState, *, limit: int, keyset: bool, feed: bool, category: bool
) -> list[str]:
    """The statements of a page of `limit` items, tried in order: a statement's rows are the
    page when there are `limit` + 1 of them (the one more tells that another page follows), and
    the last statement's rows are the page in any case.

    The counts are written into the statements, not passed as parameters: knowing them,
    PostgreSQL can keep one generic plan of each prepared statement, where with unknown counts
    it planned them anew on every request, and planning cost more than running."""
    rows, candidates = int(limit) + 1, (int(limit) + 1) * CANDIDATES_PER_ITEM
    scope = " ".join(part for part, on in ((_BY_FEED, feed), (_BY_CATEGORY, category)) if on)
    keyset_sql = _KEYSET if keyset else ""
    if state is ArticleState.starred:
        pages = [_PAGE_STARRED.format(keyset=keyset_sql, scope=scope, rows=rows)]
    else:
        filters = {ArticleState.unread: _UNREAD, ArticleState.read: _READ}
        parts = {
            "keyset": keyset_sql,
            "state": filters.get(state, ""),
            "scope": scope,
            "rows": rows,
            "candidates": candidates,
        }
        pages = [_PAGE_PER_FEED.format(**parts)]
        if state is not ArticleState.all and not feed:  # else the merge reads no state
            pages.insert(0, _PAGE_FROM_CANDIDATES.format(**parts))
    return [_ITEMS.format(page=page, excerpt_source=EXCERPT_SOURCE_CHARS) for page in pages]


async def first_full_page(
    conn: AsyncConnection[DictRow], statements: list[str], params: dict[str, Any], limit: int
) -> list[DictRow]:
    """The rows of the first of `statements` that fills a page (see `list_queries`)."""
    for sql in statements:
        rows = await (await conn.execute(sql, params)).fetchall()
        if len(rows) > limit:
            break
    return rows


def list_params(
    user_id: Any, *, feed_id: int | None, category_id: int | None, cursor: str | None
) -> dict[str, Any]:
    """The parameters of `list_queries`."""
    params: dict[str, Any] = {"user_id": user_id, "feed_id": feed_id, "category_id": category_id}
    if cursor is not None:
        at, after_id = decode_cursor(cursor)
        # Always int8: psycopg sends the smallest type that holds a number, and a prepared
        # statement is kept per parameter types.
        params["at"], params["after_id"] = at, Int8(after_id)
    return params


def item_out(row: dict[str, Any]) -> ArticleItem:
    return ArticleItem(
        id=row["id"],
        feed=ArticleFeed(id=row["feed_id"], title=row["feed_title"]),
        title=row["title"],
        url=row["url"],
        author=row["author"],
        published_at=row["published_at"],
        read=row["read"],
        starred=row["starred"],
        # Stored with the entry; rows stored before that have theirs made here.
        excerpt=row["excerpt"] if row["excerpt"] is not None else excerpt(row["content_head"]),
    )


def detail_out(row: dict[str, Any]) -> ArticleDetail:
    full = (
        FullText(
            status=row["full_status"],
            html=row["full_html"],
            text=row["full_text"],
            metadata=row["full_metadata"],
            extracted_at=row["full_extracted_at"],
        )
        if row["full_status"] is not None
        else None
    )
    summary = (
        SummaryOut(
            text=row["summary"],
            language=row["summary_language"],
            score=row["score"],
            engine=row["engine"],
            model=row["model"],
            grounded=row["grounded"],
            extractive=row["extractive"],
            created_at=row["summary_created_at"],
        )
        if row["summary"] is not None
        else None
    )
    return ArticleDetail(
        id=row["id"],
        feed=ArticleFeed(id=row["feed_id"], title=row["feed_title"]),
        title=row["title"],
        url=row["url"],
        author=row["author"],
        published_at=row["published_at"],
        fetched_at=row["fetched_at"],
        updated_at=row["updated_at"],
        language=row["language"],
        content_html=row["content_html"],
        full_text=full,
        summary=summary,
        enclosures=row["enclosures"],
        read=row["read"],
        starred=row["starred"],
    )


def with_proxied_images(article: ArticleDetail, key: bytes) -> ArticleDetail:
    full = article.full_text
    if full is not None:
        full = full.model_copy(update={"html": proxy_images(full.html, key)})
    return article.model_copy(
        update={"content_html": proxy_images(article.content_html, key), "full_text": full}
    )


def router() -> APIRouter:
    r = APIRouter(route_class=PrivateRoute, tags=["articles"])

    @r.get(
        "/v1/articles",
        response_model=ArticlePage,
        responses={
            404: {"description": "no such feed or category"},
            422: {"description": "a bad state, limit or cursor"},
        },
    )
    async def list_articles(
        user: CurrentUser,
        ctx: Context,
        state: ArticleState = ArticleState.unread,
        feed_id: Annotated[Ref | None, Query(description="only this feed")] = None,
        category_id: Annotated[Ref | None, Query(description="only this category")] = None,
        limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
        cursor: Annotated[
            str | None,
            Query(max_length=MAX_CURSOR_CHARS, description="the `next_cursor` of the last page"),
        ] = None,
    ) -> ArticlePage:
        """Articles of your feeds, newest first: unread (the default), read, starred or all;
        optionally of one feed or one category."""
        params = list_params(user.id, feed_id=feed_id, category_id=category_id, cursor=cursor)
        statements = list_queries(
            state,
            limit=limit,
            keyset=cursor is not None,
            feed=feed_id is not None,
            category=category_id is not None,
        )
        async with connection(ctx) as conn:
            if feed_id is not None:
                await check_feed(conn, user.id, feed_id)
            if category_id is not None:
                await check_category(conn, user.id, category_id)
            rows = await first_full_page(conn, statements, params, limit)
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more else None
        return ArticlePage(
            items=[item_out(row) for row in rows],
            next_cursor=encode_cursor(last["published_at"], last["id"]) if last else None,
        )

    @r.get(
        "/v1/articles/{id:int}",
        response_model=ArticleDetail,
        responses={404: {"description": "no such article"}},
    )
    async def get_article(id: ObjectId, user: CurrentUser, ctx: Context) -> ArticleDetail:
        """One article: the feed's content, the full text extracted from its page and its
        summary once ready, with your read and starred marks."""
        async with connection(ctx) as conn:
            row = await (await conn.execute(_DETAIL, {"user_id": user.id, "id": id})).fetchone()
        if row is None:
            raise not_found("article")
        return with_proxied_images(detail_out(row), image_key(ctx.settings))

    return r
