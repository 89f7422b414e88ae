"""Storing what fetches brought: entries upserted by (feed, entry hash), each feed's state and
cursor (ETag, Last-Modified) in the same transaction, so a crash leaves either the old cursor
and no new rows, or the new cursor and every row (REL-01). Refetching never duplicates; an entry
whose content changed is updated in place; an entry that retention purged (its tombstone is in
the feed, `retention`) is not stored again.

Writes are set-based: a batch of fetch outcomes (`FeedWrite`) is a handful of statements
however many feeds it holds, the entries travelling by COPY and the feed states as arrays.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.errors import DataError, IntegrityError

from alt.feeds.parse import ParsedEntry, ParsedFeed
from alt.feeds.sanitize import clean_text, truncate_text
from alt.platform.db import Connection
from alt.platform.egress import FetchResult
from alt.platform.logging import get_logger
from alt.preprocessor import schedule
from alt.preprocessor.settings import IngestSettings

log = get_logger(__name__)

# What a batch refuses when one entry is poison (a value the database rejects).
POISON = (DataError, IntegrityError)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A feed fetched and parsed: its entries to store and its new state."""

    feed_id: int
    feed: ParsedFeed
    etag: str | None
    last_modified: str | None
    status: int
    now: datetime
    next_check_at: datetime
    fetch_ms: int | None = None

    @classmethod
    def of(
        cls,
        feed_id: int,
        feed: ParsedFeed,
        result: FetchResult,
        now: datetime,
        policy: IngestSettings,
    ) -> Fetched:
        """What a successful fetch leaves: the entries, the new cursor, the next check."""
        next_check = schedule.after_success(
            now,
            policy,
            ttl_s=feed.ttl_seconds,
            max_age_s=schedule.cache_max_age_s(result.headers),
        )
        return cls(
            feed_id,
            feed,
            etag=_cursor(result.headers.get("etag"), MAX_ETAG_BYTES),
            last_modified=_cursor(result.headers.get("last-modified"), MAX_LAST_MODIFIED_BYTES),
            status=result.status,
            now=now,
            next_check_at=next_check,
            fetch_ms=round(result.elapsed_s * 1000),
        )


# The columns' limits. A longer validator is not kept (the feed is then fetched in full); the
# egress client would not send one back anyway.
MAX_ETAG_BYTES = 1024
MAX_LAST_MODIFIED_BYTES = 256


def _cursor(value: str | None, max_bytes: int) -> str | None:
    return value if value is not None and len(value.encode()) <= max_bytes else None


@dataclass(frozen=True, slots=True)
class NotModified:
    feed_id: int
    now: datetime
    next_check_at: datetime
    fetch_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    feed_id: int
    error: str
    status: int | None
    counts_as_error: bool
    now: datetime
    next_check_at: datetime


FeedWrite = Fetched | NotModified | Failed

# A batch's entries travel by binary COPY into a temporary table, then one statement moves them
# into articles and empties the table (a poison entry's batch is retried in the same
# transaction); the commit truncates it, which frees the space (no autovacuum for temporary
# tables). COPY formats rows in C; array parameters were formatted element by element in Python
# (2.7 million elements for 10,000 feeds), and PostgreSQL spends less on a table scan than on
# unnesting fourteen arrays.
_STAGED_COLUMNS = (
    ("feed_id", "int8"), ("fetched_at", "timestamptz"), ("hash", "bytea"), ("guid", "text"),
    ("url", "text"), ("title", "text"), ("author", "text"), ("content_html", "text"),
    ("published_at", "timestamptz"), ("content_hash", "bytea"), ("enclosures", "text"),
    ("categories", "text"), ("language", "text"), ("excerpt", "text"),
)  # fmt: skip
_STAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS staged_entries ("
    + ", ".join(f"{name} {kind}" for name, kind in _STAGED_COLUMNS)
    + ") ON COMMIT DELETE ROWS"
)
_STAGED_TYPES = [kind for _, kind in _STAGED_COLUMNS]
_COPY = "COPY pg_temp.staged_entries FROM STDIN (FORMAT BINARY)"

# New articles with a page to read are queued for full-text extraction on the way. Entries
# whose tombstone is in their feed are left out, and the tombstones follow what the feed
# serves: listed, they stay; left out of a whole feed's entries (`whole`: not when they are
# stored one by one), their grace period starts. Each use of the tombstones names the batch's
# feeds as one array, which the primary key finds: given only the join with the entries, the
# planner scanned every tombstone for each batch (the staged rows have no statistics).
_UPSERT = """
WITH e AS (
DELETE FROM pg_temp.staged_entries RETURNING *
), served AS (
UPDATE entry_tombstones t SET unserved_since = NULL
  FROM e
 WHERE t.feed_id = ANY (ARRAY(SELECT DISTINCT feed_id FROM e)) AND t.unserved_since IS NOT NULL
   AND t.feed_id = e.feed_id AND t.entry_hash = e.hash
), unserved AS (
UPDATE entry_tombstones t SET unserved_since = now()
 WHERE %(whole)s AND t.feed_id = ANY (ARRAY(SELECT DISTINCT feed_id FROM e))
   AND t.unserved_since IS NULL
   AND NOT EXISTS (SELECT 1 FROM e WHERE e.feed_id = t.feed_id AND e.hash = t.entry_hash)
), stored AS (
INSERT INTO articles (feed_id, entry_hash, guid, url, title, author, content_html,
                      published_at, fetched_at, updated_at, content_hash, enclosures,
                      categories, language, excerpt)
SELECT e.feed_id, e.hash, e.guid, e.url, e.title, e.author, e.content_html, e.published_at,
       e.fetched_at, e.fetched_at, e.content_hash, e.enclosures::jsonb,
       ARRAY(SELECT jsonb_array_elements_text(e.categories::jsonb)), e.language, e.excerpt
  FROM e
 WHERE NOT EXISTS (SELECT 1 FROM entry_tombstones t
                    WHERE t.feed_id = ANY (ARRAY(SELECT DISTINCT feed_id FROM e))
                      AND t.feed_id = e.feed_id AND t.entry_hash = e.hash)
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
RETURNING id, feed_id, (xmax = 0) AS inserted, url
), queued AS (
INSERT INTO article_contents (article_id)
SELECT id FROM stored WHERE inserted AND url IS NOT NULL
ON CONFLICT DO NOTHING
)
SELECT feed_id, count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated
  FROM stored GROUP BY feed_id
"""

# The array parameters of the feed updates go in binary format (%b): the text format escapes
# every element in Python, three times the cost.
_FEEDS_OK = """
UPDATE feeds f SET
    etag = u.etag, last_modified = u.last_modified,
    title = CASE WHEN u.title <> '' THEN u.title ELSE f.title END,
    site_url = COALESCE(u.site_url, f.site_url),
    description = COALESCE(u.description, f.description),
    language = COALESCE(u.language, f.language),
    ttl_seconds = u.ttl_seconds,
    last_checked_at = u.now, last_success_at = u.now, last_status = u.status,
    last_fetch_ms = COALESCE(u.fetch_ms, f.last_fetch_ms),
    error_count = 0, last_error = NULL, next_check_at = u.next_check_at, claimed_until = NULL,
    last_warnings = u.warnings
  FROM unnest(%(feed_id)b::int8[], %(etag)b::text[], %(last_modified)b::text[],
              %(title)b::text[], %(site_url)b::text[], %(description)b::text[],
              %(language)b::text[], %(ttl_seconds)b::int4[], %(now)b::timestamptz[],
              %(status)b::int4[], %(next_check_at)b::timestamptz[], %(fetch_ms)b::int4[],
              %(warnings)b::text[])
       AS u(feed_id, etag, last_modified, title, site_url, description, language,
            ttl_seconds, now, status, next_check_at, fetch_ms, warnings)
 WHERE f.id = u.feed_id
"""

_FEEDS_NOT_MODIFIED = """
UPDATE feeds f SET last_checked_at = u.now, last_success_at = u.now, last_status = 304,
    last_fetch_ms = COALESCE(u.fetch_ms, f.last_fetch_ms),
    error_count = 0, last_error = NULL, next_check_at = u.next_check_at, claimed_until = NULL
  FROM unnest(%(feed_id)b::int8[], %(now)b::timestamptz[], %(next_check_at)b::timestamptz[],
              %(fetch_ms)b::int4[])
       AS u(feed_id, now, next_check_at, fetch_ms)
 WHERE f.id = u.feed_id
"""
_NOT_MODIFIED_COLUMNS = ("feed_id", "now", "next_check_at", "fetch_ms")

# A feed that answers 410 Gone and has not worked for a week stops being polled (REL-08); until
# then 410 is a failure like any other, and nothing stored is ever deleted for it.
_FEEDS_FAILED = """
UPDATE feeds f SET last_checked_at = u.now, last_status = u.status,
    status = CASE WHEN u.status = 410
                   AND COALESCE(f.last_success_at, f.created_at) < u.now - interval '7 days'
                  THEN 'gone' ELSE f.status END,
    status_changed_at = CASE WHEN u.status = 410
                   AND COALESCE(f.last_success_at, f.created_at) < u.now - interval '7 days'
                  THEN u.now ELSE f.status_changed_at END,
    error_count = f.error_count + u.counts_as_error::int, last_error = left(u.error, 2000),
    next_check_at = u.next_check_at, claimed_until = NULL
  FROM unnest(%(feed_id)b::int8[], %(now)b::timestamptz[], %(status)b::int4[],
              %(counts_as_error)b::bool[], %(error)b::text[], %(next_check_at)b::timestamptz[])
       AS u(feed_id, now, status, counts_as_error, error, next_check_at)
 WHERE f.id = u.feed_id
"""
_FAILED_COLUMNS = ("feed_id", "now", "status", "counts_as_error", "error", "next_check_at")


async def write(conn: Connection, writes: Sequence[FeedWrite]) -> list[tuple[int, int]]:
    """Store a batch of fetch outcomes; return (inserted, updated) entries for each, in order.

    Runs in the caller's transaction. A poison entry anywhere fails the whole batch with one of
    POISON: the caller rolls back and writes feed by feed (`write_alone`)."""
    fetched = [w for w in writes if isinstance(w, Fetched)]
    counts = await _upsert(conn, [(w.feed_id, w.feed.entries, w.now) for w in fetched])
    await _update(conn, _FEEDS_OK, _ok_columns(fetched))
    not_modified = [w for w in writes if isinstance(w, NotModified)]
    await _update(conn, _FEEDS_NOT_MODIFIED, _attributes(not_modified, _NOT_MODIFIED_COLUMNS))
    failed = [w for w in writes if isinstance(w, Failed)]
    await _update(conn, _FEEDS_FAILED, _attributes(failed, _FAILED_COLUMNS))
    return [counts.get(w.feed_id, (0, 0)) if isinstance(w, Fetched) else (0, 0) for w in writes]


async def write_alone(conn: Connection, item: FeedWrite) -> tuple[int, int]:
    """One outcome in a transaction of its own; a poison entry spoils only itself (REL-07)."""
    async with conn.transaction():
        if not isinstance(item, Fetched):
            return (await write(conn, [item]))[0]
        counts = await store_entries(conn, item.feed_id, item.feed, item.now)
        await _update(conn, _FEEDS_OK, _ok_columns([item]))
        return counts


async def store_entries(
    conn: Connection, feed_id: int, feed: ParsedFeed, fetched_at: datetime
) -> tuple[int, int]:
    """Upsert one feed's entries; return (inserted, updated). Runs in the caller's transaction."""
    try:
        async with conn.transaction():
            counts = await _upsert(conn, [(feed_id, feed.entries, fetched_at)])
            return counts.get(feed_id, (0, 0))
    except POISON:
        pass
    # One poison entry must not block the feed (REL-07): store the others one by one.
    inserted = updated = 0
    for entry in feed.entries:
        try:
            async with conn.transaction():
                counts = await _upsert(conn, [(feed_id, [entry], fetched_at)], whole=False)
        except POISON as exc:
            log.warning("entry_rejected", feed_id=feed_id, error=str(exc)[:200])
            continue
        if (one := counts.get(feed_id)) is not None:
            inserted, updated = inserted + one[0], updated + one[1]
    return inserted, updated


async def _upsert(
    conn: Connection,
    feeds: Sequence[tuple[int, list[ParsedEntry], datetime]],
    *,
    whole: bool = True,
) -> dict[int, tuple[int, int]]:
    rows = _entry_rows(feeds)
    if not rows:
        return {}
    await conn.execute(_STAGE)
    async with conn.cursor().copy(_COPY) as copy:
        copy.set_types(_STAGED_TYPES)
        for row in rows:
            await copy.write_row(row)
    cursor = await conn.execute(_UPSERT, {"whole": whole})
    return {row["feed_id"]: (row["inserted"], row["updated"]) for row in await cursor.fetchall()}


def _entry_rows(feeds: Sequence[tuple[int, list[ParsedEntry], datetime]]) -> list[tuple[Any, ...]]:
    return [
        (
            feed_id,
            fetched_at,
            e.entry_hash,
            e.guid,
            e.url,
            e.title,
            e.author,
            e.content_html,
            e.published_at,
            e.content_hash,
            json.dumps(e.enclosures),
            json.dumps(e.categories),
            e.language,
            e.excerpt,
        )
        for feed_id, entries, fetched_at in feeds
        # A feed may repeat an entry: the last one wins, as it would one by one.
        for e in {entry.entry_hash: entry for entry in entries}.values()
    ]


def _ok_columns(fetched: Sequence[Fetched]) -> dict[str, list[Any]]:
    return {
        "feed_id": [w.feed_id for w in fetched],
        "etag": [w.etag for w in fetched],
        "last_modified": [w.last_modified for w in fetched],
        "title": [w.feed.title for w in fetched],
        "site_url": [w.feed.site_url for w in fetched],
        "description": [w.feed.description for w in fetched],
        "language": [w.feed.language for w in fetched],
        "ttl_seconds": [w.feed.ttl_seconds for w in fetched],
        "now": [w.now for w in fetched],
        "status": [w.status for w in fetched],
        "next_check_at": [w.next_check_at for w in fetched],
        "fetch_ms": [w.fetch_ms for w in fetched],
        "warnings": [warnings_text(w.feed.warnings) for w in fetched],
    }


MAX_WARNINGS_CHARS = 2000


def warnings_text(warnings: list[str]) -> str | None:
    """A parse's warnings as the feed keeps them: one a line, storable, within the column."""
    text = clean_text("\n".join(warnings), multiline=True)
    return truncate_text(text, MAX_WARNINGS_CHARS) if text else None


def _attributes(items: Sequence[object], names: Sequence[str]) -> dict[str, list[Any]]:
    """One array per attribute, for unnest()."""
    return {name: [getattr(item, name) for item in items] for name in names}


async def _update(conn: Connection, statement: str, columns: dict[str, list[Any]]) -> None:
    if columns["feed_id"]:
        await conn.execute(statement, columns)
