"""Read state and stars: one article, many, or everything older than a time in a scope.

Every change is idempotent (marking a read article read changes nothing and answers the same),
and reaches only articles of feeds the caller subscribes to (`alt.backend.storage.marks`):
another user's article answers like a missing one (404), or is listed under `not_found` by the
bulk routes, with nothing changed. Each change is one statement, run in autocommit.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from alt.backend import storage
from alt.backend.schemas import IdsRequest, IdsResult, MarkReadRequest, MarkReadResult
from alt.backend.storage.marks import Mark
from alt.backend.web import CurrentUser, Db, ObjectId, PrivateRoute, check_scope, not_found
from alt.platform.db import Pool, autocommit

router = APIRouter(route_class=PrivateRoute, tags=["articles"])

_MISSING: dict[int | str, dict[str, Any]] = {404: {"description": "no such article"}}


async def _mark_one(db: Pool, user_id: Any, mark: Mark, on: bool, article_id: int) -> Response:
    async with autocommit(db) as conn:
        if not await storage.marks.set_mark(conn, user_id, mark, on, [article_id]):
            raise not_found("article")
    return Response(status_code=204)


async def _mark_many(db: Pool, user_id: Any, mark: Mark, on: bool, ids: list[int]) -> IdsResult:
    asked = sorted(set(ids))
    async with autocommit(db) as conn:
        done = await storage.marks.set_mark(conn, user_id, mark, on, asked)
    return IdsResult(
        done=[i for i in asked if i in done], not_found=[i for i in asked if i not in done]
    )


@router.put(
    "/v1/articles/{id:int}/read", status_code=204, response_class=Response, responses=_MISSING
)
async def read_article(id: ObjectId, user: CurrentUser, db: Db) -> Response:
    """Mark the article read (idempotent)."""
    return await _mark_one(db, user.id, "read", True, id)


@router.put(
    "/v1/articles/{id:int}/star", status_code=204, response_class=Response, responses=_MISSING
)
async def star_article(id: ObjectId, user: CurrentUser, db: Db) -> Response:
    """Mark the article starred (idempotent)."""
    return await _mark_one(db, user.id, "star", True, id)


@router.delete(
    "/v1/articles/{id:int}/read", status_code=204, response_class=Response, responses=_MISSING
)
async def unread_article(id: ObjectId, user: CurrentUser, db: Db) -> Response:
    """Mark the article not read (idempotent)."""
    return await _mark_one(db, user.id, "read", False, id)


@router.delete(
    "/v1/articles/{id:int}/star", status_code=204, response_class=Response, responses=_MISSING
)
async def unstar_article(id: ObjectId, user: CurrentUser, db: Db) -> Response:
    """Mark the article not starred (idempotent)."""
    return await _mark_one(db, user.id, "star", False, id)


@router.post("/v1/articles/read", response_model=IdsResult)
async def read_articles(body: IdsRequest, user: CurrentUser, db: Db) -> IdsResult:
    """Mark up to 1000 articles read (idempotent)."""
    return await _mark_many(db, user.id, "read", True, body.ids)


@router.post("/v1/articles/unread", response_model=IdsResult)
async def unread_articles(body: IdsRequest, user: CurrentUser, db: Db) -> IdsResult:
    """Mark up to 1000 articles unread (idempotent)."""
    return await _mark_many(db, user.id, "read", False, body.ids)


@router.post(
    "/v1/articles/mark-read",
    response_model=MarkReadResult,
    responses={404: {"description": "no such feed or category"}},
)
async def mark_read(body: MarkReadRequest, user: CurrentUser, db: Db) -> MarkReadResult:
    """Mark everything published at or before `before` read: in all your feeds, in one
    feed, or in one category."""
    async with autocommit(db) as conn:
        await check_scope(conn, user.id, feed_id=body.feed_id, category_id=body.category_id)
        marked = await storage.marks.read_up_to(
            conn,
            user.id,
            body.before,
            scope=body.scope,
            feed_id=body.feed_id,
            category_id=body.category_id,
        )
    return MarkReadResult(marked=marked)
