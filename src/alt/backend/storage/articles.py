"""Articles as a reader sees them: keyset pages by state and scope, one article, a feed's newest.

A reader sees the articles of the feeds they subscribe to, nothing else: every statement joins
the reader's subscriptions by user id, so another user's article is simply not found.

Lists are newest first on the unique key (published_at, id). A page is picked per subscribed
feed from `articles_feed_published_idx` (each feed gives at most a page's worth of rows past
the key) and merged, so the work grows with the page size and the number of feeds, not with
the number of articles. Unread and read lists first filter only the few newest candidates of
that merge and fall back to the full merge when those do not make a page (see
`_PAGE_FROM_CANDIDATES`). New articles, whatever their dates, never shift a page: no
duplicates and no gaps.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict, cast

from psycopg.types.numeric import Int8

from alt.backend.storage.paging import Page
from alt.feeds.excerpt import EXCERPT_SOURCE_CHARS
from alt.platform.db import Connection

Key = tuple[datetime, int]
"""An article's place in the lists: (published_at, id)."""


class ArticleState(StrEnum):
    unread = "unread"
    read = "read"
    starred = "starred"
    all = "all"


class ItemRow(TypedDict):
    id: int
    title: str
    url: str | None
    author: str | None
    published_at: datetime
    excerpt: str | None
    content_head: str | None  # the content's start, where `excerpt` is null (older rows)
    feed_id: int
    feed_title: str
    read: bool
    starred: bool


class DetailRow(TypedDict):
    id: int
    title: str
    url: str | None
    author: str | None
    published_at: datetime
    fetched_at: datetime
    updated_at: datetime
    language: str | None
    content_html: str | None
    enclosures: list[dict[str, Any]]
    feed_id: int
    feed_title: str
    full_status: str | None
    full_html: str | None
    full_text: str | None
    full_metadata: dict[str, Any] | None
    full_extracted_at: datetime | None
    summary: str | None
    summary_language: str | None
    score: int | None
    engine: str | None
    model: str | None
    grounded: bool | None
    extractive: bool | None
    summary_created_at: datetime | None
    read: bool
    starred: bool


class BriefRow(TypedDict):
    id: int
    title: str
    url: str | None
    published_at: datetime


# The key goes in through scalar subqueries, so that the planner treats it as unknown in
# every plan: the generic plan of the prepared statement is then as good as one made for the
# key at hand, and PostgreSQL keeps it instead of planning every page anew (planning cost
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

_NEWEST_OF_FEED = """
SELECT id, title, url, published_at FROM articles
 WHERE feed_id = %(feed_id)s
 ORDER BY published_at DESC, id DESC
 LIMIT %(limit)s
"""


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


def list_params(
    user_id: Any, *, feed_id: int | None, category_id: int | None, after: Key | None
) -> dict[str, Any]:
    """The parameters of `list_queries`."""
    params: dict[str, Any] = {"user_id": user_id, "feed_id": feed_id, "category_id": category_id}
    if after is not None:
        at, after_id = after
        # Always int8: psycopg sends the smallest type that holds a number, and a prepared
        # statement is kept per parameter types.
        params["at"], params["after_id"] = at, Int8(after_id)
    return params


async def first_full_page(
    conn: Connection, statements: list[str], params: dict[str, Any], limit: int
) -> list[ItemRow]:
    """The rows of the first of `statements` that fills a page (see `list_queries`)."""
    for sql in statements:
        rows = await (await conn.execute(sql, params)).fetchall()
        if len(rows) > limit:
            break
    return cast(list[ItemRow], rows)


async def page(
    conn: Connection,
    user_id: Any,
    state: ArticleState,
    *,
    limit: int,
    after: Key | None = None,
    feed_id: int | None = None,
    category_id: int | None = None,
) -> Page[ItemRow]:
    """The reader's articles in `state`, newest first, past `after` (from the start when
    None), of one feed or one category when given. Each statement stands alone."""
    statements = list_queries(
        state,
        limit=limit,
        keyset=after is not None,
        feed=feed_id is not None,
        category=category_id is not None,
    )
    params = list_params(user_id, feed_id=feed_id, category_id=category_id, after=after)
    return Page.of(await first_full_page(conn, statements, params, limit), limit)


async def detail(conn: Connection, user_id: Any, article_id: int) -> DetailRow | None:
    """One article of the reader's feeds with its full text, newest ready summary and marks."""
    row = await (await conn.execute(_DETAIL, {"user_id": user_id, "id": article_id})).fetchone()
    return cast(DetailRow | None, row)


async def newest_of_feed(conn: Connection, feed_id: int, limit: int) -> list[BriefRow]:
    rows = await (
        await conn.execute(_NEWEST_OF_FEED, {"feed_id": feed_id, "limit": limit})
    ).fetchall()
    return cast(list[BriefRow], rows)
