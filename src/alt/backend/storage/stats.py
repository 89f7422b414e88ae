"""Unread counts and a user's stats.

Unread counts are "articles of the feed minus the user's read marks of that feed": the first
is kept per feed by triggers (`feed_article_counts`, migration 0006), the second is an
index-only count (`read_states_user_feed_idx`); never a join over every article the user can
see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from alt.platform.db import Connection


class CountRow(TypedDict):
    is_feed: bool
    feed_id: int | None
    category_id: int | None
    unread: int


class StatsRow(TypedDict):
    feeds: int
    articles: int
    summarised: int
    unread_today: int


# Per feed, then per category (every folder of the user, empty ones too), in one statement.
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


async def unread_counts(conn: Connection, user_id: Any) -> list[CountRow]:
    """Rows per subscribed feed (`is_feed`), then per category of the user, empty ones too."""
    rows = await (await conn.execute(_COUNTS, {"user_id": user_id})).fetchall()
    return cast(list[CountRow], rows)


async def totals(conn: Connection, user_id: Any, *, today: datetime) -> StatsRow:
    """The user's feeds, their articles, how many have a ready summary, and how many published
    since `today` are unread."""
    row = await (await conn.execute(_STATS, {"user_id": user_id, "today": today})).fetchone()
    assert row is not None  # an aggregate without GROUP BY has its row
    return cast(StatsRow, row)
