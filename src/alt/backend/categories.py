"""Categories (folders, one level): list, create, rename, delete.

Names are unique per user regardless of case (`alt.backend.storage.categories`); a clash is a
409 that names the existing folder. Deleting a folder leaves its subscriptions uncategorised.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from alt.backend import storage
from alt.backend.schemas import CategoryList, CategoryOut, CategoryRequest, CategoryWithCounts
from alt.backend.storage.categories import NameTaken
from alt.backend.web import CurrentUser, Db, ObjectId, PrivateRoute, not_found
from alt.platform.db import autocommit, transaction
from alt.platform.errors import AltError

router = APIRouter(route_class=PrivateRoute, tags=["categories"])


def _clash(taken: NameTaken, name: str) -> AltError:
    existing = taken.existing
    details = {"category_id": existing["id"]} if existing else None
    shown = existing["name"] if existing else name
    return AltError(
        409, "category_exists", f"You already have a category named \u201c{shown}\u201d.", details
    )


@router.get("/v1/categories", response_model=CategoryList)
async def list_categories(user: CurrentUser, db: Db) -> CategoryList:
    """The caller's categories by name, with how many feeds each holds and their unread
    count."""
    async with autocommit(db) as conn:
        rows = await storage.categories.with_counts(conn, user.id)
    return CategoryList(categories=[CategoryWithCounts(**row) for row in rows])


@router.post(
    "/v1/categories",
    status_code=201,
    response_model=CategoryOut,
    responses={409: {"description": "a category with that name exists"}},
)
async def create_category(body: CategoryRequest, user: CurrentUser, db: Db) -> CategoryOut:
    async with transaction(db) as conn:
        try:
            row = await storage.categories.create(conn, user.id, body.name)
        except NameTaken as taken:
            raise _clash(taken, body.name) from None
    return CategoryOut(**row)


@router.patch(
    "/v1/categories/{id}",
    response_model=CategoryOut,
    responses={
        404: {"description": "no such category"},
        409: {"description": "a category with that name exists"},
    },
)
async def rename_category(
    id: ObjectId, body: CategoryRequest, user: CurrentUser, db: Db
) -> CategoryOut:
    # Autocommit: the update runs in a transaction of its own (see `rename`), the lookup of
    # a clash after it.
    async with autocommit(db) as conn:
        try:
            row = await storage.categories.rename(conn, user.id, id, body.name)
        except NameTaken as taken:
            raise _clash(taken, body.name) from None
    if row is None:
        raise not_found("category")
    return CategoryOut(**row)


@router.delete(
    "/v1/categories/{id}",
    status_code=204,
    response_class=Response,
    responses={404: {"description": "no such category"}},
)
async def delete_category(id: ObjectId, user: CurrentUser, db: Db) -> Response:
    """Delete a category; its subscriptions stay, uncategorised."""
    async with autocommit(db) as conn:
        gone = await storage.categories.delete(conn, user.id, id)
    if not gone:
        raise not_found("category")
    return Response(status_code=204)
