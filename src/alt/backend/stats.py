"""Unread counts and the caller's stats, once or as a stream of server-sent events.

Unread counts are "articles of the feed minus the caller's read marks of that feed": the first
is kept per feed by triggers (`feed_article_counts`, migration 0006), the second is an index-only
count (`read_states_user_feed_idx`); never a join over every article the caller can see.

`GET /v1/sse/feeds/stats` sends the stats at once and then every few seconds as `stats` events
with increasing ids, `: heartbeat` comments in between, and a `retry:` hint; a client that
reconnects with `Last-Event-ID` continues the numbering and gets the current stats at once. The
stream ends when the client goes away, and by itself after the lifetime of a user token, so a
logged-out session stops receiving data and the client reconnects with a fresh token.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from alt.backend.article_models import Stats, UnreadCounts
from alt.backend.settings import StatsStreamSettings
from alt.backend.web import Context, CurrentUser, PrivateRoute, connection, pool_of
from alt.platform.identity import MAX_TOKEN_LIFETIME_S

RETRY_MS = 3000
STREAM_MAX_S = float(MAX_TOKEN_LIFETIME_S)
MAX_EVENT_ID = 2**53

# Per feed, then per category (every folder of the caller, empty ones too), in one statement.
_COUNTS = """
WITH feeds AS (
       SELECT s.feed_id, s.category_id,
              greatest(0, coalesce(c.articles, 0)
                          - (SELECT count(*) FROM read_states r
                              WHERE r.user_id = %(user_id)s AND r.feed_id = s.feed_id)) AS unread
         FROM subscriptions s
         LEFT JOIN feed_article_counts c ON c.feed_id = s.feed_id
        WHERE s.user_id = %(user_id)s)
SELECT true AS is_feed, feed_id, category_id, unread FROM feeds
UNION ALL
SELECT false, NULL, c.id, coalesce(per.unread, 0)
  FROM categories c
  LEFT JOIN (SELECT category_id, sum(unread)::bigint AS unread FROM feeds GROUP BY category_id) per
         ON per.category_id = c.id
 WHERE c.user_id = %(user_id)s
 ORDER BY is_feed DESC, feed_id, category_id
"""

_STATS = """
SELECT (SELECT count(*) FROM subscriptions s WHERE s.user_id = %(user_id)s) AS feeds,
       (SELECT count(*) FROM subscriptions s JOIN articles a ON a.feed_id = s.feed_id
         WHERE s.user_id = %(user_id)s) AS articles,
       (SELECT count(*) FROM subscriptions s JOIN articles a ON a.feed_id = s.feed_id
         WHERE s.user_id = %(user_id)s
           AND EXISTS (SELECT 1 FROM summaries su
                        WHERE su.article_id = a.id AND su.status = 'ready')) AS summarised,
       (SELECT count(*) FROM subscriptions s JOIN articles a ON a.feed_id = s.feed_id
         WHERE s.user_id = %(user_id)s AND a.published_at >= %(today)s
           AND NOT EXISTS (SELECT 1 FROM read_states r
                            WHERE r.user_id = %(user_id)s AND r.article_id = a.id))
         AS unread_today
"""


async def unread_counts(conn: AsyncConnection[DictRow], user_id: Any) -> UnreadCounts:
    rows = await (await conn.execute(_COUNTS, {"user_id": user_id})).fetchall()
    feeds = [row for row in rows if row["is_feed"]]
    # Validated in one call from the rows: building a model per row in Python was a tenth of
    # the route's time with a hundred feeds.
    return UnreadCounts.model_validate(
        {
            "feeds": feeds,
            "categories": [row for row in rows if not row["is_feed"]],
            "total": sum(row["unread"] for row in feeds),
        }
    )


async def stats_of(conn: AsyncConnection[DictRow], user_id: Any) -> Stats:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    row = await (await conn.execute(_STATS, {"user_id": user_id, "today": today})).fetchone()
    assert row is not None
    return Stats(unsummarised=row["articles"] - row["summarised"], **row)


def _first_id(last_event_id: str | None) -> int:
    """The id after the client's last one; a reconnect continues the numbering."""
    if last_event_id is None or not last_event_id.strip().isdigit():
        return 1
    seen = int(last_event_id.strip())
    return seen + 1 if seen < MAX_EVENT_ID else 1


def router(stream: StatsStreamSettings) -> APIRouter:
    r = APIRouter(route_class=PrivateRoute, tags=["stats"])
    stats_every = stream.every_s
    heartbeat_every = stream.heartbeat_s

    @r.get("/v1/unread-counts", response_model=UnreadCounts)
    async def get_unread_counts(user: CurrentUser, ctx: Context) -> UnreadCounts:
        """Your unread articles per feed (by feed id), per category and in total."""
        async with connection(ctx) as conn:
            return await unread_counts(conn, user.id)

    @r.get("/v1/stats", response_model=Stats)
    async def get_stats(user: CurrentUser, ctx: Context) -> Stats:
        """Your feeds, their articles, how many are summarised, and how many of today's are
        unread."""
        async with connection(ctx) as conn:
            return await stats_of(conn, user.id)

    @r.get(
        "/v1/sse/feeds/stats",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream_stats(
        request: Request,
        user: CurrentUser,
        ctx: Context,
        last_event_id: Annotated[str | None, Header(max_length=32)] = None,
    ) -> StreamingResponse:
        """The stats of `/v1/stats` as server-sent events (`event: stats`), every few seconds,
        with heartbeats; send `Last-Event-ID` when reconnecting."""
        pool = pool_of(ctx)
        user_id = user.id

        async def events() -> AsyncIterator[str]:
            event_id = _first_id(last_event_id)
            started = time.monotonic()
            yield f"retry: {RETRY_MS}\n\n"
            next_stats = started
            next_beat = started + heartbeat_every
            while time.monotonic() - started < STREAM_MAX_S:
                if await request.is_disconnected():
                    return
                now = time.monotonic()
                if now >= next_stats:
                    async with pool.connection() as conn:
                        stats = await stats_of(conn, user_id)
                    data = json.dumps(stats.model_dump(), separators=(",", ":"))
                    yield f"id: {event_id}\nevent: stats\ndata: {data}\n\n"
                    event_id += 1
                    next_stats = now + stats_every
                elif now >= next_beat:
                    yield ": heartbeat\n\n"
                    next_beat = now + heartbeat_every
                await asyncio.sleep(max(0.0, min(next_stats, next_beat) - time.monotonic()))

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},
        )

    return r
