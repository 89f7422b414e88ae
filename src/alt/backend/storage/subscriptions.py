"""Subscriptions: a user's tie to a shared feed, with the user's own title and category.

Every statement names the user's id, so another user's subscription is simply not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from psycopg import errors

from alt.backend.storage.paging import Page
from alt.platform.db import Connection


class CategoryGone(Exception):
    """The category named for a subscription does not exist (any more)."""


class SubscriptionRow(TypedDict):
    id: int
    custom_title: str | None
    created_at: datetime
    category_id: int | None
    category_name: str | None
    feed_id: int
    url: str
    feed_title: str
    site_url: str | None
    status: str
    last_checked_at: datetime | None
    last_success_at: datetime | None
    error_count: int
    last_error: str | None
    last_warnings: str | None
    next_check_at: datetime
    unread_count: int


class NamedSubscription(TypedDict):
    id: int
    title: str


class Refreshed(TypedDict):
    subscription_id: int
    feed_id: int
    next_check_at: datetime


class ExportRow(TypedDict):
    url: str
    title: str
    site_url: str | None
    category: str | None


_SELECT = """
SELECT s.id, s.title AS custom_title, s.created_at, s.category_id, c.name AS category_name,
       f.id AS feed_id, f.url, f.title AS feed_title, f.site_url, f.status, f.last_checked_at,
       f.last_success_at, f.error_count, f.last_error, f.last_warnings,
       f.next_check_at,
       (SELECT count(*) FROM articles a WHERE a.feed_id = s.feed_id)
         - (SELECT count(*) FROM read_states r
             WHERE r.user_id = s.user_id AND r.feed_id = s.feed_id) AS unread_count
  FROM subscriptions s
  JOIN feeds f ON f.id = s.feed_id
  LEFT JOIN categories c ON c.id = s.category_id AND c.user_id = s.user_id
 WHERE s.user_id = %(user_id)s
"""

_ONE = _SELECT + " AND s.id = %(id)s"
_PAGE = _SELECT + " AND s.id > %(after)s ORDER BY s.id LIMIT %(limit)s"

_TO_FEED = """
SELECT s.id, coalesce(s.title, nullif(f.title, ''), f.url) AS title
  FROM subscriptions s JOIN feeds f ON f.id = s.feed_id
 WHERE s.user_id = %(user_id)s AND (f.url = %(url)s OR f.id = %(feed_id)s)
"""

_HAS_FEED = "SELECT 1 FROM subscriptions WHERE user_id = %(user_id)s AND feed_id = %(id)s"

_ADD = """
INSERT INTO subscriptions (user_id, feed_id, category_id, title)
VALUES (%(user_id)s, %(feed_id)s, %(category_id)s, %(title)s)
ON CONFLICT (user_id, feed_id) DO NOTHING
RETURNING id
"""

_ADD_MANY = """
INSERT INTO subscriptions (user_id, feed_id, category_id, title)
SELECT %(user_id)s, feed_id, category_id, title
  FROM unnest(%(feed_ids)s::bigint[], %(category_ids)s::bigint[], %(titles)s::text[])
       AS n (feed_id, category_id, title)
ON CONFLICT (user_id, feed_id) DO NOTHING
RETURNING id, feed_id
"""

_CHANGEABLE = ("title", "category_id")

_REMOVE = [
    # The user's stars and read marks of this feed's articles, then the subscription.
    """DELETE FROM favorites fv USING subscriptions s, articles a
        WHERE s.id = %(id)s AND s.user_id = %(user_id)s
          AND a.feed_id = s.feed_id AND fv.article_id = a.id AND fv.user_id = %(user_id)s""",
    """DELETE FROM read_states r USING subscriptions s
        WHERE s.id = %(id)s AND s.user_id = %(user_id)s
          AND r.user_id = %(user_id)s AND r.feed_id = s.feed_id""",
    "DELETE FROM subscriptions WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id",
]

_REFRESH = """
UPDATE feeds f SET next_check_at = now()
  FROM subscriptions s
 WHERE s.id = %(id)s AND s.user_id = %(user_id)s AND f.id = s.feed_id
RETURNING s.id AS subscription_id, f.id AS feed_id, f.next_check_at
"""

_EXPORT = """
SELECT f.url, coalesce(s.title, nullif(f.title, ''), f.url) AS title, f.site_url,
       c.name AS category
  FROM subscriptions s
  JOIN feeds f ON f.id = s.feed_id
  LEFT JOIN categories c ON c.id = s.category_id AND c.user_id = s.user_id
 WHERE s.user_id = %(user_id)s
 ORDER BY lower(c.name) NULLS FIRST, s.id
"""

_ONE_IMPORT_AT_A_TIME = "SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))"


async def get(conn: Connection, user_id: Any, subscription_id: int) -> SubscriptionRow | None:
    """One subscription with its feed, category and unread count."""
    row = await (await conn.execute(_ONE, {"user_id": user_id, "id": subscription_id})).fetchone()
    return cast(SubscriptionRow | None, row)


async def page(conn: Connection, user_id: Any, *, after: int, limit: int) -> Page[SubscriptionRow]:
    """The user's subscriptions made after the one with id `after`, in the order made."""
    rows = await (
        await conn.execute(_PAGE, {"user_id": user_id, "after": after, "limit": limit + 1})
    ).fetchall()
    return Page.of(cast(list[SubscriptionRow], rows), limit)


async def to_feed(
    conn: Connection, user_id: Any, *, url: str, feed_id: int | None = None
) -> NamedSubscription | None:
    """The user's subscription to the feed at `url` (or with id `feed_id`), with its title."""
    params = {"user_id": user_id, "url": url, "feed_id": feed_id}
    return cast(NamedSubscription | None, await (await conn.execute(_TO_FEED, params)).fetchone())


async def has_feed(conn: Connection, user_id: Any, feed_id: int) -> bool:
    found = await (await conn.execute(_HAS_FEED, {"user_id": user_id, "id": feed_id})).fetchone()
    return found is not None


async def add(
    conn: Connection, user_id: Any, feed_id: int, *, category_id: int | None, title: str | None
) -> int | None:
    """The new subscription's id; None when the user already subscribes to the feed. Raises
    CategoryGone when the category does not exist."""
    params = {"user_id": user_id, "feed_id": feed_id, "category_id": category_id, "title": title}
    try:
        row = await (await conn.execute(_ADD, params)).fetchone()
    except errors.ForeignKeyViolation:
        raise CategoryGone from None
    return None if row is None else int(row["id"])


async def add_many(
    conn: Connection,
    user_id: Any,
    feed_ids: list[int],
    category_ids: list[int | None],
    titles: list[str | None],
) -> dict[int, int]:
    """Subscribe to each feed (with its category and title, at the same index); the new
    subscriptions' ids by feed id (feeds already subscribed to are left as they are)."""
    params = {
        "user_id": user_id,
        "feed_ids": feed_ids,
        "category_ids": category_ids,
        "titles": titles,
    }
    rows = await (await conn.execute(_ADD_MANY, params)).fetchall()
    return {row["feed_id"]: row["id"] for row in rows}


async def change(
    conn: Connection, user_id: Any, subscription_id: int, changes: dict[str, Any]
) -> bool:
    """Set the `title` and/or `category_id` in `changes` (None resets); False when there is no
    such subscription. Raises CategoryGone when the category does not exist."""
    sets = [f"{name} = %({name})s" for name in _CHANGEABLE if name in changes]
    if not sets or set(changes) - set(_CHANGEABLE):
        raise ValueError(f"changes of {sorted(changes)}; only {_CHANGEABLE} change")
    try:
        updated = await (
            await conn.execute(
                f"UPDATE subscriptions SET {', '.join(sets)}"  # noqa: S608 (fixed names)
                " WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id",
                {"id": subscription_id, "user_id": user_id, **changes},
            )
        ).fetchone()
    except errors.ForeignKeyViolation:
        raise CategoryGone from None
    return updated is not None


async def remove(conn: Connection, user_id: Any, subscription_id: int) -> bool:
    """Remove the subscription and the user's read marks and stars of its feed's articles;
    nobody else's. Run in a transaction: they go together. False when there is no such
    subscription."""
    params = {"id": subscription_id, "user_id": user_id}
    for statement in _REMOVE[:-1]:
        await conn.execute(statement, params)
    return await (await conn.execute(_REMOVE[-1], params)).fetchone() is not None


async def refresh(conn: Connection, user_id: Any, subscription_id: int) -> Refreshed | None:
    """Make the subscription's feed due now."""
    row = await (
        await conn.execute(_REFRESH, {"id": subscription_id, "user_id": user_id})
    ).fetchone()
    return cast(Refreshed | None, row)


async def for_export(conn: Connection, user_id: Any) -> list[ExportRow]:
    """Every subscription of the user with its title and category name, uncategorised first,
    then by category name."""
    rows = await (await conn.execute(_EXPORT, {"user_id": user_id})).fetchall()
    return cast(list[ExportRow], rows)


async def one_import_at_a_time(conn: Connection, user_id: Any) -> None:
    """Wait for the user's other imports, and make theirs wait for this one, until the
    transaction ends."""
    await conn.execute(_ONE_IMPORT_AT_A_TIME, {"key": f"alt-backend:opml-import:{user_id}"})
