"""Read marks and stars: a row in read_states means read, a row in favorites means starred.

Every change is idempotent and reaches only articles of feeds the user subscribes to; each is
one statement, atomic alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from alt.platform.db import Connection

Mark = Literal["read", "star"]
Scope = Literal["all", "feed", "category"]

# The articles among %(ids)s that the user may see.
_VISIBLE = """
SELECT a.id, a.feed_id FROM articles a
 WHERE a.id = ANY(%(ids)s)
   AND EXISTS (SELECT 1 FROM subscriptions s
                WHERE s.user_id = %(user_id)s AND s.feed_id = a.feed_id)
"""

_CHANGES = {
    ("read", True): """
        INSERT INTO read_states (user_id, article_id, feed_id)
        SELECT %(user_id)s, id, feed_id FROM target
        ON CONFLICT (user_id, article_id) DO NOTHING""",
    ("read", False): """
        DELETE FROM read_states r
         WHERE r.user_id = %(user_id)s AND r.article_id IN (SELECT id FROM target)""",
    ("star", True): """
        INSERT INTO favorites (user_id, article_id)
        SELECT %(user_id)s, id FROM target
        ON CONFLICT (user_id, article_id) DO NOTHING""",
    ("star", False): """
        DELETE FROM favorites fv
         WHERE fv.user_id = %(user_id)s AND fv.article_id IN (SELECT id FROM target)""",
}

_SET_STATEMENTS = {
    key: f"WITH target AS ({_VISIBLE}), changed AS ({change}) SELECT id FROM target"  # noqa: S608
    for key, change in _CHANGES.items()
}

# Everything published at or before %(before)s in the scope, as one statement.
_MARK_READ = """
INSERT INTO read_states (user_id, article_id, feed_id)
SELECT %(user_id)s, a.id, a.feed_id
  FROM subscriptions s
  JOIN articles a ON a.feed_id = s.feed_id
 WHERE s.user_id = %(user_id)s {scope}
   AND a.published_at <= %(before)s
   AND NOT EXISTS (SELECT 1 FROM read_states r
                    WHERE r.user_id = %(user_id)s AND r.article_id = a.id)
ON CONFLICT (user_id, article_id) DO NOTHING
"""
_SCOPES = {
    "all": "",
    "feed": "AND s.feed_id = %(feed_id)s",
    "category": "AND s.category_id = %(category_id)s",
}


async def set_mark(
    conn: Connection, user_id: Any, mark: Mark, on: bool, ids: list[int]
) -> set[int]:
    """Put the mark on (or take it off) the user's visible articles among `ids`; their ids."""
    rows = await (
        await conn.execute(_SET_STATEMENTS[(mark, on)], {"user_id": user_id, "ids": ids})
    ).fetchall()
    return {row["id"] for row in rows}


async def read_up_to(
    conn: Connection,
    user_id: Any,
    before: datetime,
    *,
    scope: Scope,
    feed_id: int | None = None,
    category_id: int | None = None,
) -> int:
    """Mark read every article published at or before `before`: in all the user's feeds, in
    one feed or in one category; how many were unread."""
    params = {
        "user_id": user_id,
        "feed_id": feed_id,
        "category_id": category_id,
        "before": before,
    }
    cursor = await conn.execute(_MARK_READ.format(scope=_SCOPES[scope]), params)
    return max(cursor.rowcount, 0)
