"""The caller's history, per UTC day over the last N days: articles fetched of their feeds,
articles they read, failed fetches of their feeds, and summaries by engine and mark
(`alt.backend.storage.history` says where each comes from)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from alt.backend.schemas import History, HistoryDay, SummaryCount
from alt.backend.storage import history as stored
from alt.backend.web import CurrentUser, Db, PrivateRoute
from alt.platform.db import autocommit

DAYS_MAX = 365

router = APIRouter(route_class=PrivateRoute, tags=["stats"])


@router.get("/v1/stats/history", response_model=History)
async def get_history(
    user: CurrentUser,
    db: Db,
    days: Annotated[int, Query(ge=1, le=DAYS_MAX, description="days, today's included")] = 30,
) -> History:
    """Your feeds' articles, your reads, your feeds' failed fetches and their summaries by
    engine and mark, per UTC day (today last); days without any are zeros."""
    today = datetime.now(UTC).date()
    since = today - timedelta(days=days - 1)
    async with autocommit(db) as conn:
        fetched = await stored.feed_days(conn, user.id, since)
        reads = await stored.read_days(conn, user.id, datetime.combine(since, time(), UTC))
        summaries = await stored.summary_days(conn, user.id, since)
    return history_of(since, today, fetched, reads, summaries)


def history_of(
    since: date,
    until: date,
    fetched: list[stored.FeedDayRow],
    reads: list[stored.ReadDayRow],
    summaries: list[stored.SummaryDayRow],
) -> History:
    """Every day from `since` to `until`, the rows' numbers on theirs and zeros elsewhere."""
    by_day = {row["day"]: row for row in fetched}
    reads_by_day = {row["day"]: row["reads"] for row in reads}
    made: defaultdict[date, list[SummaryCount]] = defaultdict(list)
    for made_on in summaries:
        made[made_on["day"]].append(SummaryCount.model_validate(made_on))
    days = []
    for offset in range((until - since).days + 1):
        day = since + timedelta(days=offset)
        row = by_day.get(day)
        days.append(
            HistoryDay(
                day=day,
                articles=row["articles"] if row else 0,
                reads=reads_by_day.get(day, 0),
                errors=row["errors"] if row else 0,
                summaries=made[day],
            )
        )
    return History(days=days)
