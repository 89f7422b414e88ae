"""Categories: a user's folders (one level) of subscriptions.

Names are unique per user regardless of case ("News" and "news" are one folder), as the unique
index on (user_id, lower(name)) compares them. Deleting a folder leaves its subscriptions
uncategorised (the schema's `ON DELETE SET NULL (category_id)`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypedDict, cast

from psycopg import errors

from alt.platform.db import Connection


class CategoryRow(TypedDict):
    id: int
    name: str


class CountedRow(TypedDict):
    id: int
    name: str
    created_at: datetime
    subscription_count: int
    unread_count: int


class NameTaken(Exception):
    """The user has a category of that name; `existing` is it (None if it went meanwhile)."""

    def __init__(self, existing: CategoryRow | None) -> None:
        super().__init__(existing)
        self.existing = existing


_WITH_COUNTS = """
SELECT c.id, c.name, c.created_at,
       count(s.id) AS subscription_count,
       coalesce(sum((SELECT count(*) FROM articles a WHERE a.feed_id = s.feed_id)
                    - (SELECT count(*) FROM read_states r
                        WHERE r.user_id = c.user_id AND r.feed_id = s.feed_id)), 0)
         AS unread_count
  FROM categories c
  LEFT JOIN subscriptions s ON s.category_id = c.id AND s.user_id = c.user_id
 WHERE c.user_id = %(user_id)s
 GROUP BY c.id
 ORDER BY lower(c.name), c.id
"""

_EXISTS = "SELECT 1 FROM categories WHERE id = %(id)s AND user_id = %(user_id)s"

_CREATE = """
INSERT INTO categories (user_id, name) VALUES (%(user_id)s, %(name)s)
ON CONFLICT (user_id, lower(name)) DO NOTHING
RETURNING id, name
"""

_RENAME = """
UPDATE categories SET name = %(name)s WHERE id = %(id)s AND user_id = %(user_id)s
RETURNING id, name
"""

_BY_NAME = """
SELECT id, name FROM categories WHERE user_id = %(user_id)s AND lower(name) = lower(%(name)s)
"""

_DELETE = "DELETE FROM categories WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id"

_CREATE_MISSING = """
INSERT INTO categories (user_id, name)
SELECT %(user_id)s, name FROM unnest(%(names)s::text[]) AS n (name)
ON CONFLICT (user_id, lower(name)) DO NOTHING
"""

# Each name asked for to its folder, matched the way the unique index matches (lower() of
# the database, which is not always Python's).
_BY_NAMES = """
SELECT n.name AS wanted, c.id, c.name
  FROM unnest(%(names)s::text[]) AS n (name)
  JOIN categories c ON c.user_id = %(user_id)s AND lower(c.name) = lower(n.name)
"""


async def with_counts(conn: Connection, user_id: Any) -> list[CountedRow]:
    """The user's categories by name, with how many feeds each holds and their unread count."""
    rows = await (await conn.execute(_WITH_COUNTS, {"user_id": user_id})).fetchall()
    return cast(list[CountedRow], rows)


async def exists(conn: Connection, user_id: Any, category_id: int) -> bool:
    params = {"id": category_id, "user_id": user_id}
    return await (await conn.execute(_EXISTS, params)).fetchone() is not None


async def _named(conn: Connection, user_id: Any, name: str) -> CategoryRow | None:
    params = {"user_id": user_id, "name": name}
    return cast(CategoryRow | None, await (await conn.execute(_BY_NAME, params)).fetchone())


async def create(conn: Connection, user_id: Any, name: str) -> CategoryRow:
    """A new category; raises NameTaken when the user has one of that name."""
    row = await (await conn.execute(_CREATE, {"user_id": user_id, "name": name})).fetchone()
    if row is None:
        raise NameTaken(await _named(conn, user_id, name))
    return cast(CategoryRow, row)


async def rename(conn: Connection, user_id: Any, category_id: int, name: str) -> CategoryRow | None:
    """The renamed category, None when there is no such category; raises NameTaken when the
    user has another one of that name. The update runs in a transaction (a savepoint inside
    the caller's) of its own, so that the connection is usable after a clash."""
    params = {"id": category_id, "user_id": user_id, "name": name}
    try:
        async with conn.transaction():
            row = await (await conn.execute(_RENAME, params)).fetchone()
    except errors.UniqueViolation:
        raise NameTaken(await _named(conn, user_id, name)) from None
    return cast(CategoryRow | None, row)


async def delete(conn: Connection, user_id: Any, category_id: int) -> bool:
    """False when there is no such category."""
    params = {"id": category_id, "user_id": user_id}
    return await (await conn.execute(_DELETE, params)).fetchone() is not None


async def ensure(conn: Connection, user_id: Any, names: Iterable[str]) -> dict[str, CategoryRow]:
    """Each name -> the user's category of that name, creating the missing ones (a new one is
    named as first spelled here)."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    params = {"user_id": user_id, "names": wanted}
    await conn.execute(_CREATE_MISSING, params)
    rows = await (await conn.execute(_BY_NAMES, params)).fetchall()
    return {row["wanted"]: CategoryRow(id=row["id"], name=row["name"]) for row in rows}
