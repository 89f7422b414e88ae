"""Unread counts and the caller's stats, once or as a stream of server-sent events.

The counts come from `alt.backend.storage.stats` (kept per feed by triggers, never a join over
every article the caller can see).

`GET /v1/sse/feeds/stats` sends the stats at once and then every few seconds as `stats` events
with increasing ids, `: heartbeat` comments in between, and a `retry:` hint. Each event carries
the unread counts of `/v1/unread-counts` under `counts` when they changed since the stream's last
event (and always in its first), so an idle page gets a few numbers, not every feed's count,
each time. The stats are counted again when a count moved, else every `recount_s`: they cost
far more than the counts, which triggers keep. A client that reconnects with `Last-Event-ID`
continues the numbering and gets the current stats and counts at once. The stream ends when the
client goes away, and by itself after the lifetime of a user token, so the client reconnects
with a fresh token. A browser's stream ends sooner when its session does: the edge, which
relays it, checks the session every few seconds (`alt.frontend.proxy`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse

from alt.backend import history, storage
from alt.backend.schemas import Stats, StatsEvent, UnreadCounts
from alt.backend.settings import StatsStreamSettings
from alt.backend.storage.stats import CountRow
from alt.backend.web import CurrentUser, Db, PrivateRoute
from alt.platform.db import Connection, Pool, autocommit
from alt.platform.identity import MAX_TOKEN_LIFETIME_S

RETRY_MS = 3000
STREAM_MAX_S = float(MAX_TOKEN_LIFETIME_S)
MAX_EVENT_ID = 2**53

router = APIRouter(route_class=PrivateRoute, tags=["stats"])
router.include_router(history.router)  # the stats page's history (`/v1/stats/history`)


def counts_out(rows: list[CountRow]) -> UnreadCounts:
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


async def stats_of(conn: Connection, user_id: Any) -> Stats:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    row = await storage.stats.totals(conn, user_id, today=today)
    return Stats(unsummarised=row["articles"] - row["summarised"], **row)


@router.get("/v1/unread-counts", response_model=UnreadCounts)
async def get_unread_counts(user: CurrentUser, db: Db) -> UnreadCounts:
    """Your unread articles per feed (by feed id), per category and in total."""
    async with autocommit(db) as conn:
        return counts_out(await storage.stats.unread_counts(conn, user.id))


@router.get("/v1/stats", response_model=Stats)
async def get_stats(user: CurrentUser, db: Db) -> Stats:
    """Your feeds, their articles, how many are summarised, and how many of today's are
    unread."""
    async with autocommit(db) as conn:
        return await stats_of(conn, user.id)


# --- the stream ---------------------------------------------------------------------------------


STREAM_TIMING_STATE = "stream_timing"
"""Where `alt.backend.service` puts the stream's pace (`settings.stats_stream`) on the app's
state."""


async def stream_timing(request: Request) -> StatsStreamSettings:
    timing: StatsStreamSettings = getattr(request.app.state, STREAM_TIMING_STATE)
    return timing


Timing = Annotated[StatsStreamSettings, Depends(stream_timing)]


def _first_id(last_event_id: str | None) -> int:
    """The id after the client's last one; a reconnect continues the numbering."""
    if last_event_id is None or not last_event_id.strip().isdigit():
        return 1
    seen = int(last_event_id.strip())
    return seen + 1 if seen < MAX_EVENT_ID else 1


@dataclass
class Sent:
    """What a stream's client has been sent, and when its stats are counted again."""

    counts: UnreadCounts | None = None
    stats: Stats | None = None
    recount_at: float = 0.0


async def event_of(
    conn: Connection, user_id: Any, sent: Sent, now: float, timing: StatsStreamSettings
) -> StatsEvent:
    """The next event: the unread counts if they moved, and the stats, counted again when a
    count moved or `recount_s` went by (they cost a hundred times more than the counts, so an
    idle page does not pay for them on every event)."""
    counts = counts_out(await storage.stats.unread_counts(conn, user_id))
    moved = counts != sent.counts
    if moved or sent.stats is None or now >= sent.recount_at:
        sent.stats = await stats_of(conn, user_id)
        sent.recount_at = now + timing.recount_s
    sent.counts = counts
    return StatsEvent(**sent.stats.model_dump(), counts=counts if moved else None)


async def stats_events(
    request: Request, db: Pool, user_id: Any, event_id: int, timing: StatsStreamSettings
) -> AsyncIterator[str]:
    """The stream's text: the retry hint, then stats events numbered from `event_id` and
    heartbeats, until the client goes or the stream's lifetime ends."""
    started = time.monotonic()
    yield f"retry: {RETRY_MS}\n\n"
    next_stats = started
    next_beat = started + timing.heartbeat_s
    sent = Sent()
    while time.monotonic() - started < STREAM_MAX_S:
        if await request.is_disconnected():
            return
        now = time.monotonic()
        if now >= next_stats:
            async with autocommit(db) as conn:
                event = await event_of(conn, user_id, sent, now, timing)
            unchanged = {"counts"} if event.counts is None else None
            data = json.dumps(event.model_dump(exclude=unchanged), separators=(",", ":"))
            yield f"id: {event_id}\nevent: stats\ndata: {data}\n\n"
            event_id += 1
            next_stats = now + timing.every_s
        elif now >= next_beat:
            yield ": heartbeat\n\n"
            next_beat = now + timing.heartbeat_s
        await asyncio.sleep(max(0.0, min(next_stats, next_beat) - time.monotonic()))


@router.get(
    "/v1/sse/feeds/stats",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_stats(
    request: Request,
    user: CurrentUser,
    db: Db,
    timing: Timing,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """The stats of `/v1/stats` as server-sent events (`event: stats`), every few seconds,
    with heartbeats; send `Last-Event-ID` when reconnecting."""
    return StreamingResponse(
        stats_events(request, db, user.id, _first_id(last_event_id), timing),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )
