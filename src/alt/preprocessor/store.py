"""Storing what a fetch brought: entries upserted by (feed, entry hash), the feed's state and
cursor (ETag, Last-Modified) in the same transaction, so a crash leaves either the old cursor
and no new rows, or the new cursor and every row (REL-01). Refetching never duplicates; an entry
whose content changed is updated in place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.errors import DataError, IntegrityError
from psycopg.types.json import Jsonb

from alt.feeds.excerpt import excerpt_of_text
from alt.feeds.parse import ParsedEntry, ParsedFeed
from alt.platform.db import Connection
from alt.platform.logging import get_logger

log = get_logger(__name__)

# One statement per feed: the entries travel as arrays (one round trip, one plan), and new
# articles with a page to read are queued for full-text extraction on the way.
_UPSERT = """
WITH stored AS (
INSERT INTO articles (feed_id, entry_hash, guid, url, title, author, content_html,
                      published_at, fetched_at, updated_at, content_hash, enclosures,
                      categories, language, excerpt)
SELECT %(feed_id)s, e.hash, e.guid, e.url, e.title, e.author, e.content_html, e.published_at,
       %(fetched_at)s, %(fetched_at)s, e.content_hash, e.enclosures,
       ARRAY(SELECT jsonb_array_elements_text(e.categories)), e.language, e.excerpt
  FROM unnest(%(hash)s::bytea[], %(guid)s::text[], %(url)s::text[], %(title)s::text[],
              %(author)s::text[], %(content_html)s::text[], %(published_at)s::timestamptz[],
              %(content_hash)s::bytea[], %(enclosures)s::jsonb[], %(categories)s::jsonb[],
              %(language)s::text[], %(excerpt)s::text[])
       AS e(hash, guid, url, title, author, content_html, published_at, content_hash,
            enclosures, categories, language, excerpt)
ON CONFLICT (feed_id, entry_hash) DO UPDATE SET
    guid = EXCLUDED.guid, url = EXCLUDED.url, title = EXCLUDED.title, author = EXCLUDED.author,
    content_html = EXCLUDED.content_html, content_hash = EXCLUDED.content_hash,
    enclosures = EXCLUDED.enclosures, categories = EXCLUDED.categories,
    language = EXCLUDED.language, excerpt = EXCLUDED.excerpt, updated_at = EXCLUDED.updated_at
WHERE (articles.url, articles.title, articles.author, articles.content_html,
       articles.enclosures, articles.categories)
      IS DISTINCT FROM
      (EXCLUDED.url, EXCLUDED.title, EXCLUDED.author, EXCLUDED.content_html,
       EXCLUDED.enclosures, EXCLUDED.categories)
RETURNING id, (xmax = 0) AS inserted, url
), queued AS (
INSERT INTO article_contents (article_id)
SELECT id FROM stored WHERE inserted AND url IS NOT NULL
ON CONFLICT DO NOTHING
)
SELECT id, inserted FROM stored
"""

_FEED_OK = """
UPDATE feeds SET
    etag = %(etag)s, last_modified = %(last_modified)s,
    title = CASE WHEN %(title)s <> '' THEN %(title)s ELSE title END,
    site_url = COALESCE(%(site_url)s, site_url),
    description = COALESCE(%(description)s, description),
    language = COALESCE(%(language)s, language),
    ttl_seconds = %(ttl_seconds)s,
    last_checked_at = %(now)s, last_success_at = %(now)s, last_status = %(status)s,
    error_count = 0, last_error = NULL, next_check_at = %(next_check_at)s, claimed_until = NULL
WHERE id = %(feed_id)s
"""

_FEED_NOT_MODIFIED = """
UPDATE feeds SET last_checked_at = %(now)s, last_success_at = %(now)s, last_status = 304,
    error_count = 0, last_error = NULL, next_check_at = %(next_check_at)s, claimed_until = NULL
WHERE id = %(feed_id)s
"""

# A feed that answers 410 Gone and has not worked for a week stops being polled (REL-08); until
# then 410 is a failure like any other, and nothing stored is ever deleted for it.
_FEED_FAILED = """
UPDATE feeds SET last_checked_at = %(now)s, last_status = %(status)s,
    status = CASE WHEN %(status)s = 410
                   AND COALESCE(last_success_at, created_at) < %(now)s - interval '7 days'
                  THEN 'gone' ELSE status END,
    status_changed_at = CASE WHEN %(status)s = 410
                   AND COALESCE(last_success_at, created_at) < %(now)s - interval '7 days'
                  THEN %(now)s ELSE status_changed_at END,
    error_count = error_count + %(counts)s, last_error = left(%(error)s, 2000),
    next_check_at = %(next_check_at)s, claimed_until = NULL
WHERE id = %(feed_id)s
"""


def _columns(feed_id: int, entries: list[ParsedEntry], fetched_at: datetime) -> dict[str, Any]:
    unique = list({entry.entry_hash: entry for entry in entries}.values())
    return {
        "feed_id": feed_id,
        "fetched_at": fetched_at,
        "hash": [e.entry_hash for e in unique],
        "guid": [e.guid for e in unique],
        "url": [e.url for e in unique],
        "title": [e.title for e in unique],
        "author": [e.author for e in unique],
        "content_html": [e.content_html for e in unique],
        "published_at": [e.published_at for e in unique],
        "content_hash": [e.content_hash for e in unique],
        "enclosures": [Jsonb(e.enclosures) for e in unique],
        "categories": [Jsonb(e.categories) for e in unique],
        "language": [e.language for e in unique],
        "excerpt": [excerpt_of_text(e.summary_text) for e in unique],
    }


async def store_entries(
    conn: Connection, feed_id: int, feed: ParsedFeed, fetched_at: datetime
) -> tuple[int, int]:
    """Upsert the entries; return (inserted, updated). Runs inside the caller's transaction."""
    try:
        async with conn.transaction():
            results = await _upsert(conn, _columns(feed_id, feed.entries, fetched_at))
    except (DataError, IntegrityError):
        # One poison entry must not block the feed (REL-07): store the others one by one.
        results = []
        for entry in feed.entries:
            try:
                async with conn.transaction():
                    results += await _upsert(conn, _columns(feed_id, [entry], fetched_at))
            except (DataError, IntegrityError) as exc:
                log.warning("entry_rejected", feed_id=feed_id, error=str(exc)[:200])
    inserted = sum(1 for _, was_new in results if was_new)
    return inserted, len(results) - inserted


async def _upsert(conn: Connection, columns: dict[str, Any]) -> list[tuple[int, bool]]:
    if not columns["hash"]:
        return []
    cursor = await conn.execute(_UPSERT, columns)
    return [(row["id"], row["inserted"]) for row in await cursor.fetchall()]


async def mark_fetched(
    conn: Connection,
    feed_id: int,
    feed: ParsedFeed,
    *,
    etag: str | None,
    last_modified: str | None,
    status: int,
    now: datetime,
    next_check_at: datetime,
) -> None:
    await conn.execute(
        _FEED_OK,
        {
            "feed_id": feed_id,
            "etag": etag,
            "last_modified": last_modified,
            "title": feed.title,
            "site_url": feed.site_url,
            "description": feed.description,
            "language": feed.language,
            "ttl_seconds": feed.ttl_seconds,
            "now": now,
            "status": status,
            "next_check_at": next_check_at,
        },
    )


async def mark_not_modified(
    conn: Connection, feed_id: int, *, now: datetime, next_check_at: datetime
) -> None:
    await conn.execute(
        _FEED_NOT_MODIFIED, {"feed_id": feed_id, "now": now, "next_check_at": next_check_at}
    )


async def mark_failed(
    conn: Connection,
    feed_id: int,
    *,
    error: str,
    status: int | None,
    counts_as_error: bool,
    now: datetime,
    next_check_at: datetime,
) -> None:
    await conn.execute(
        _FEED_FAILED,
        {
            "feed_id": feed_id,
            "now": now,
            "status": status,
            "error": error,
            "counts": 1 if counts_as_error else 0,
            "next_check_at": next_check_at,
        },
    )
