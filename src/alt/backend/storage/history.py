"""A user's history per UTC day: articles fetched, reads, feed errors, summaries by engine and
mark.

Fetches, errors and summaries come from the per-feed, per-day rows that triggers keep
(`feed_days`, `feed_summary_days`, migration 0010): a year of a reader with a hundred feeds is
at most some tens of thousands of small rows, whatever the number of articles. Reads are an
index range of the user's own marks (`read_states_user_read_at_idx`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypedDict, cast

from alt.platform.db import Connection


class FeedDayRow(TypedDict):
    day: date
    articles: int
    errors: int


class ReadDayRow(TypedDict):
    day: date
    reads: int


class SummaryDayRow(TypedDict):
    day: date
    engine: str
    mark: str
    summaries: int


_FEED_DAYS = """
SELECT d.day, sum(d.articles)::bigint AS articles, sum(d.errors)::bigint AS errors
  FROM subscriptions s JOIN feed_days d ON d.feed_id = s.feed_id AND d.day >= %(since)s
 WHERE s.user_id = %(user_id)s
 GROUP BY d.day
"""

_READ_DAYS = """
SELECT (r.read_at AT TIME ZONE 'UTC')::date AS day, count(*) AS reads
  FROM read_states r
 WHERE r.user_id = %(user_id)s AND r.read_at >= %(since_at)s
 GROUP BY 1
"""

_SUMMARY_DAYS = """
SELECT d.day, d.engine, d.mark, sum(d.summaries)::bigint AS summaries
  FROM subscriptions s JOIN feed_summary_days d ON d.feed_id = s.feed_id AND d.day >= %(since)s
 WHERE s.user_id = %(user_id)s
 GROUP BY d.day, d.engine, d.mark
 ORDER BY d.day, d.engine, d.mark
"""


async def feed_days(conn: Connection, user_id: Any, since: date) -> list[FeedDayRow]:
    """Articles fetched and failed fetches of the user's feeds, per day from `since` (days
    without either are left out)."""
    rows = await (await conn.execute(_FEED_DAYS, {"user_id": user_id, "since": since})).fetchall()
    return cast(list[FeedDayRow], rows)


async def read_days(conn: Connection, user_id: Any, since_at: datetime) -> list[ReadDayRow]:
    """The user's read marks per UTC day, made from `since_at` on."""
    params = {"user_id": user_id, "since_at": since_at}
    return cast(list[ReadDayRow], await (await conn.execute(_READ_DAYS, params)).fetchall())


async def summary_days(conn: Connection, user_id: Any, since: date) -> list[SummaryDayRow]:
    """Summaries of the user's feeds' articles that became ready, per day, engine and mark."""
    params = {"user_id": user_id, "since": since}
    return cast(list[SummaryDayRow], await (await conn.execute(_SUMMARY_DAYS, params)).fetchall())
