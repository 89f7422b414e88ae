"""Read state and stars: one article, many, or everything older than a time in a scope.

A row in read_states means read; unread deletes it. A row in favorites means starred. Every
change is idempotent (marking a read article read changes nothing and answers the same), and
reaches only articles of feeds the caller subscribes to: another user's article answers like a
missing one (404), or is listed under `not_found` by the bulk routes, with nothing changed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from alt.backend.article_models import IdsRequest, IdsResult, MarkReadRequest, MarkReadResult
from alt.backend.articles import check_feed
from alt.backend.subscriptions import check_category
from alt.backend.web import (
    Context,
    CurrentUser,
    ObjectId,
    PrivateRoute,
    connection,
    not_found,
)

# The articles among %(ids)s that the caller may see.
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


async def set_state(
    conn: AsyncConnection[DictRow], user_id: Any, what: str, on: bool, ids: list[int]
) -> set[int]:
    """Put the caller's visible articles among `ids` in the state; their ids."""
    rows = await (
        await conn.execute(_SET_STATEMENTS[(what, on)], {"user_id": user_id, "ids": ids})
    ).fetchall()
    return {row["id"] for row in rows}


def router() -> APIRouter:
    r = APIRouter(route_class=PrivateRoute, tags=["articles"])

    def one(what: str, on: bool, doc: str) -> Any:
        async def handler(id: ObjectId, user: CurrentUser, ctx: Context) -> Response:
            async with connection(ctx) as conn:
                if not await set_state(conn, user.id, what, on, [id]):
                    raise not_found("article")
            return Response(status_code=204)

        handler.__doc__ = doc
        handler.__name__ = f"{'' if on else 'un'}{what}_article"
        return handler

    def many(what: str, on: bool, doc: str) -> Any:
        async def handler(body: IdsRequest, user: CurrentUser, ctx: Context) -> IdsResult:
            ids = sorted(set(body.ids))
            async with connection(ctx) as conn:
                done = await set_state(conn, user.id, what, on, ids)
            return IdsResult(
                done=[i for i in ids if i in done], not_found=[i for i in ids if i not in done]
            )

        handler.__doc__ = doc
        handler.__name__ = f"{'' if on else 'un'}{what}_articles"
        return handler

    missing: dict[int | str, dict[str, Any]] = {404: {"description": "no such article"}}
    for method, on in (("PUT", True), ("DELETE", False)):
        for what, verb in (("read", "read"), ("star", "starred")):
            r.add_api_route(
                f"/v1/articles/{{id:int}}/{what}",
                one(what, on, f"Mark the article {verb if on else 'not ' + verb} (idempotent)."),
                methods=[method],
                status_code=204,
                response_class=Response,
                responses=missing,
            )
    for path, on in (("read", True), ("unread", False)):
        r.add_api_route(
            f"/v1/articles/{path}",
            many("read", on, f"Mark up to 1000 articles {path} (idempotent)."),
            methods=["POST"],
            response_model=IdsResult,
        )

    @r.post(
        "/v1/articles/mark-read",
        response_model=MarkReadResult,
        responses={404: {"description": "no such feed or category"}},
    )
    async def mark_read(body: MarkReadRequest, user: CurrentUser, ctx: Context) -> MarkReadResult:
        """Mark everything published at or before `before` read: in all your feeds, in one
        feed, or in one category."""
        params = {
            "user_id": user.id,
            "feed_id": body.feed_id,
            "category_id": body.category_id,
            "before": body.before,
        }
        async with connection(ctx) as conn:
            if body.feed_id is not None:
                await check_feed(conn, user.id, body.feed_id)
            if body.category_id is not None:
                await check_category(conn, user.id, body.category_id)
            cursor = await conn.execute(_MARK_READ.format(scope=_SCOPES[body.scope]), params)
        return MarkReadResult(marked=max(cursor.rowcount, 0))

    return r
