"""Categories (folders, one level): list, create, rename, delete.

Names are unique per user regardless of case ("News" and "news" are one folder); a clash is a
409 that names the existing folder. Deleting a folder leaves its subscriptions uncategorised
(the schema's `ON DELETE SET NULL (category_id)`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from psycopg import AsyncConnection, errors
from psycopg.rows import DictRow

from alt.backend.models import CategoryList, CategoryOut, CategoryRequest, CategoryWithCounts
from alt.backend.web import Context, CurrentUser, ObjectId, PrivateRoute, not_found, pool_of
from alt.platform.errors import AltError

_LIST = """
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


async def _clash(conn: AsyncConnection[DictRow], params: dict[str, Any]) -> AltError:
    existing = await (await conn.execute(_BY_NAME, params)).fetchone()
    details = {"category_id": existing["id"]} if existing else None
    name = existing["name"] if existing else params["name"]
    return AltError(
        409, "category_exists", f"You already have a category named \u201c{name}\u201d.", details
    )


def router() -> APIRouter:
    r = APIRouter(route_class=PrivateRoute, tags=["categories"])

    @r.get("/v1/categories", response_model=CategoryList)
    async def list_categories(user: CurrentUser, ctx: Context) -> CategoryList:
        """The caller's categories by name, with how many feeds each holds and their unread
        count."""
        async with pool_of(ctx).connection() as conn:
            rows = await (await conn.execute(_LIST, {"user_id": user.id})).fetchall()
        return CategoryList(categories=[CategoryWithCounts(**row) for row in rows])

    @r.post(
        "/v1/categories",
        status_code=201,
        response_model=CategoryOut,
        responses={409: {"description": "a category with that name exists"}},
    )
    async def create_category(
        body: CategoryRequest, user: CurrentUser, ctx: Context
    ) -> CategoryOut:
        params = {"user_id": user.id, "name": body.name}
        async with pool_of(ctx).connection() as conn:
            row = await (await conn.execute(_CREATE, params)).fetchone()
            if row is None:
                raise await _clash(conn, params)
        return CategoryOut(**row)

    @r.patch(
        "/v1/categories/{id}",
        response_model=CategoryOut,
        responses={
            404: {"description": "no such category"},
            409: {"description": "a category with that name exists"},
        },
    )
    async def rename_category(
        id: ObjectId, body: CategoryRequest, user: CurrentUser, ctx: Context
    ) -> CategoryOut:
        params = {"id": id, "user_id": user.id, "name": body.name}
        async with pool_of(ctx).connection() as conn:
            try:
                async with conn.transaction():
                    row = await (await conn.execute(_RENAME, params)).fetchone()
            except errors.UniqueViolation:
                raise await _clash(conn, params) from None
            if row is None:
                raise not_found("category")
        return CategoryOut(**row)

    @r.delete(
        "/v1/categories/{id}",
        status_code=204,
        response_class=Response,
        responses={404: {"description": "no such category"}},
    )
    async def delete_category(id: ObjectId, user: CurrentUser, ctx: Context) -> Response:
        """Delete a category; its subscriptions stay, uncategorised."""
        async with pool_of(ctx).connection() as conn:
            gone = await (await conn.execute(_DELETE, {"id": id, "user_id": user.id})).fetchone()
        if gone is None:
            raise not_found("category")
        return Response(status_code=204)

    return r
