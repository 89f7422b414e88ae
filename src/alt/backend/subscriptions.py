"""Subscriptions: subscribe (with discovery), list, show, rename, move, unsubscribe, refresh.

A subscription ties the caller to a shared feed row (`alt.backend.storage.subscriptions`);
another user's subscription is simply not found (404). Unsubscribing removes the caller's
subscription and the caller's read states and stars of that feed's articles, nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from alt.backend import feed_address, storage
from alt.backend.schemas import (
    ArticleBrief,
    CategoryOut,
    DiscoverRequest,
    FeedChoice,
    FeedChoices,
    FeedOut,
    RefreshOut,
    SubscribedOut,
    SubscribeRequest,
    SubscriptionChange,
    SubscriptionOut,
    SubscriptionPage,
)
from alt.backend.storage.subscriptions import CategoryGone, NamedSubscription, SubscriptionRow
from alt.backend.web import (
    PG_BIGINT_MAX,
    Context,
    CurrentUser,
    Db,
    Limits,
    ObjectId,
    PrivateRoute,
    check_scope,
    not_found,
    pool_of,
)
from alt.platform.db import Connection, autocommit, transaction
from alt.platform.egress import FetchLimits
from alt.platform.errors import AltError

NEW_ARTICLES = 20
PAGE_DEFAULT = 500
PAGE_MAX = 1000

router = APIRouter(route_class=PrivateRoute, tags=["subscriptions"])


def subscription_out(row: SubscriptionRow) -> SubscriptionOut:
    return SubscriptionOut(**_subscription_fields(row))


def _subscription_fields(row: SubscriptionRow) -> dict[str, Any]:
    category = (
        CategoryOut(id=row["category_id"], name=row["category_name"])
        if row["category_id"] is not None
        else None
    )
    return {
        "id": row["id"],
        "title": row["custom_title"] or row["feed_title"] or row["url"],
        "custom_title": row["custom_title"],
        "category": category,
        "feed": FeedOut(
            id=row["feed_id"],
            url=row["url"],
            title=row["feed_title"],
            site_url=row["site_url"],
            status=row["status"],
            last_checked_at=row["last_checked_at"],
            last_success_at=row["last_success_at"],
            error_count=row["error_count"],
            last_error=row["last_error"],
            last_warnings=row["last_warnings"],
            next_check_at=row["next_check_at"],
        ),
        "unread_count": max(0, row["unread_count"]),
        "created_at": row["created_at"],
    }


async def _one(conn: Connection, user_id: Any, subscription_id: int) -> SubscriptionRow:
    row = await storage.subscriptions.get(conn, user_id, subscription_id)
    if row is None:
        raise not_found("subscription")
    return row


def _duplicate(existing: NamedSubscription) -> AltError:
    return AltError(
        409,
        "already_subscribed",
        f"You are already subscribed to this feed (as \u201c{existing['title']}\u201d).",
        {"subscription_id": existing["id"]},
    )


@router.post(
    "/v1/feeds/discover",
    response_model=FeedChoices,
    responses={422: {"description": "not a URL, a refused URL, or no feed there"}},
)
async def discover_feeds(
    body: DiscoverRequest, user: CurrentUser, ctx: Context, limits: Limits
) -> FeedChoices:
    """The feeds to choose from at a URL (the feed itself, or those a web page announces),
    each with your subscription to it if you have one; subscribes to nothing."""
    try:
        url = feed_address.feed_url(body.url, limits)
    except feed_address.UrlRefused as exc:
        raise feed_address.refused(exc) from None
    found = _usable(await feed_address.candidates(ctx, url), limits)
    async with autocommit(pool_of(ctx)) as conn:
        mine = [await storage.subscriptions.to_feed(conn, user.id, url=f["url"]) for f in found]
    return FeedChoices(
        feeds=[
            FeedChoice(**feed, subscription_id=sub["id"] if sub else None)
            for feed, sub in zip(found, mine, strict=True)
        ]
    )


def _usable(found: list[dict[str, str]], limits: FetchLimits) -> list[dict[str, str]]:
    """The candidates in the form subscribing stores (so that they compare with stored feeds),
    without any the policy refuses."""
    usable: dict[str, dict[str, str]] = {}
    for feed in found:
        try:
            url = feed_address.feed_url(feed["url"], limits)
        except feed_address.UrlRefused:
            continue
        usable.setdefault(url, {"url": url, "title": feed["title"]})
    return list(usable.values())


@router.post(
    "/v1/subscriptions",
    status_code=201,
    response_model=SubscribedOut,
    responses={
        404: {"description": "no such category"},
        409: {"description": "already subscribed"},
        422: {"description": "not a URL, a refused URL, or not a feed"},
    },
)
async def subscribe(
    body: SubscribeRequest, user: CurrentUser, ctx: Context, limits: Limits
) -> SubscribedOut:
    """Subscribe to a feed, or to the feed a web page names; answers the feed and its
    newest articles."""
    try:
        url = feed_address.feed_url(body.url, limits)
    except feed_address.UrlRefused as exc:
        raise feed_address.refused(exc) from None
    db = pool_of(ctx)
    async with autocommit(db) as conn:  # checks only
        await check_scope(conn, user.id, category_id=body.category_id)
        existing = await storage.subscriptions.to_feed(conn, user.id, url=url)
        if existing is not None:
            raise _duplicate(existing)
        known = await storage.feeds.working(conn, url)
    # A feed someone already reads (and that worked) needs no new fetch; anything else is
    # fetched and checked by the pre-processor, outside any transaction.
    feed_id = known if known is not None else (await feed_address.discover(ctx, url)).feed_id
    async with transaction(db) as conn:
        try:
            made = await storage.subscriptions.add(
                conn, user.id, feed_id, category_id=body.category_id, title=body.title
            )
        except CategoryGone:  # deleted meanwhile
            raise not_found("category") from None
        if made is None:  # the page led to a feed the caller already reads
            existing = await storage.subscriptions.to_feed(conn, user.id, url=url, feed_id=feed_id)
            assert existing is not None
            raise _duplicate(existing)
        await storage.feeds.notify_due(conn)
        row = await _one(conn, user.id, made)
        newest = await storage.articles.newest_of_feed(conn, feed_id, NEW_ARTICLES)
    return SubscribedOut(
        **_subscription_fields(row), articles=[ArticleBrief(**article) for article in newest]
    )


@router.get("/v1/subscriptions", response_model=SubscriptionPage)
async def list_subscriptions(
    user: CurrentUser,
    db: Db,
    after: Annotated[
        int, Query(ge=0, le=PG_BIGINT_MAX, description="the `next_after` of the previous page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
) -> SubscriptionPage:
    """The caller's subscriptions in the order they were made, with category and unread
    count."""
    async with autocommit(db) as conn:
        page = await storage.subscriptions.page(conn, user.id, after=after, limit=limit)
    return SubscriptionPage(
        subscriptions=[subscription_out(row) for row in page.rows],
        next_after=page.rows[-1]["id"] if page.more else None,
    )


@router.get(
    "/v1/subscriptions/{id}",
    response_model=SubscriptionOut,
    responses={404: {"description": "no such subscription"}},
)
async def get_subscription(id: ObjectId, user: CurrentUser, db: Db) -> SubscriptionOut:
    async with autocommit(db) as conn:
        return subscription_out(await _one(conn, user.id, id))


@router.patch(
    "/v1/subscriptions/{id}",
    response_model=SubscriptionOut,
    responses={404: {"description": "no such subscription or category"}},
)
async def change_subscription(
    id: ObjectId, body: SubscriptionChange, user: CurrentUser, db: Db
) -> SubscriptionOut:
    """Rename (`title`; null goes back to the feed's own) or move (`category_id`; null
    leaves it uncategorised)."""
    changes = body.model_dump(include=body.model_fields_set)
    if not changes:
        raise AltError(
            422,
            "validation_failed",
            "Nothing to change: send a title, a category_id, or both.",
            [{"field": "request", "problem": "no field to change"}],
        )
    async with transaction(db) as conn:
        await check_scope(conn, user.id, category_id=body.category_id)
        try:
            changed = await storage.subscriptions.change(conn, user.id, id, changes)
        except CategoryGone:  # deleted meanwhile
            raise not_found("category") from None
        if not changed:
            raise not_found("subscription")
        return subscription_out(await _one(conn, user.id, id))


@router.delete(
    "/v1/subscriptions/{id}",
    status_code=204,
    response_class=Response,
    responses={404: {"description": "no such subscription"}},
)
async def unsubscribe(id: ObjectId, user: CurrentUser, db: Db) -> Response:
    """Unsubscribe: your subscription and your read marks and stars of its articles go;
    nobody else's."""
    async with transaction(db) as conn:
        if not await storage.subscriptions.remove(conn, user.id, id):
            raise not_found("subscription")
    return Response(status_code=204)


@router.post(
    "/v1/subscriptions/{id}/refresh",
    status_code=202,
    response_model=RefreshOut,
    responses={404: {"description": "no such subscription"}},
)
async def refresh(id: ObjectId, user: CurrentUser, db: Db) -> RefreshOut:
    """Check the feed now: it is due at once and its fetcher is woken."""
    async with transaction(db) as conn:
        refreshed = await storage.subscriptions.refresh(conn, user.id, id)
        if refreshed is None:
            raise not_found("subscription")
        await storage.feeds.notify_due(conn)
    return RefreshOut(**refreshed)
