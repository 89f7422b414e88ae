"""Subscriptions: subscribe (with discovery), list, show, rename, move, unsubscribe, refresh.

A subscription ties the caller to a shared feed row. Every statement names the caller's id, so
another user's subscription is simply not found (404). Unsubscribing removes the caller's
subscription and the caller's read states and stars of that feed's articles, nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from psycopg import AsyncConnection, errors
from psycopg.rows import DictRow

from alt.backend import feed_address
from alt.backend.models import (
    ArticleBrief,
    CategoryOut,
    FeedOut,
    RefreshOut,
    SubscribedOut,
    SubscribeRequest,
    SubscriptionChange,
    SubscriptionOut,
    SubscriptionPage,
)
from alt.backend.web import (
    PG_BIGINT_MAX,
    Context,
    CurrentUser,
    ObjectId,
    PrivateRoute,
    not_found,
    pool_of,
)
from alt.platform.egress import FetchLimits
from alt.platform.errors import AltError

FEEDS_DUE_CHANNEL = "alt_feeds_due"
NEW_ARTICLES = 20
PAGE_DEFAULT = 500
PAGE_MAX = 1000

_SELECT = """
SELECT s.id, s.title AS custom_title, s.created_at, s.category_id, c.name AS category_name,
       f.id AS feed_id, f.url, f.title AS feed_title, f.site_url, f.status, f.last_checked_at,
       f.last_success_at, f.error_count, f.last_error,
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

_DUPLICATE = """
SELECT s.id, coalesce(s.title, nullif(f.title, ''), f.url) AS title
  FROM subscriptions s JOIN feeds f ON f.id = s.feed_id
 WHERE s.user_id = %(user_id)s AND (f.url = %(url)s OR f.id = %(feed_id)s)
"""

_KNOWN_GOOD_FEED = """
SELECT id, url, title, site_url FROM feeds
 WHERE url = %(url)s AND status = 'active' AND last_success_at IS NOT NULL
"""

_SUBSCRIBE = """
INSERT INTO subscriptions (user_id, feed_id, category_id, title)
VALUES (%(user_id)s, %(feed_id)s, %(category_id)s, %(title)s)
ON CONFLICT (user_id, feed_id) DO NOTHING
RETURNING id
"""

_NEWEST = """
SELECT id, title, url, published_at FROM articles
 WHERE feed_id = %(feed_id)s
 ORDER BY published_at DESC, id DESC
 LIMIT %(limit)s
"""

_CATEGORY_EXISTS = "SELECT 1 FROM categories WHERE id = %(id)s AND user_id = %(user_id)s"

_UNSUBSCRIBE = [
    # The caller's stars and read marks of this feed's articles, then the subscription.
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


def subscription_out(row: dict[str, Any]) -> SubscriptionOut:
    return SubscriptionOut(**_subscription_fields(row))


def _subscription_fields(row: dict[str, Any]) -> dict[str, Any]:
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
        ),
        "unread_count": max(0, row["unread_count"]),
        "created_at": row["created_at"],
    }


async def notify_feeds_due(conn: AsyncConnection[DictRow]) -> None:
    """Wake the pre-processor's fetchers (delivered when the transaction commits)."""
    await conn.execute("SELECT pg_notify(%s, '')", (FEEDS_DUE_CHANNEL,))


async def _fetch_one(conn: AsyncConnection[DictRow], user_id: Any, sub_id: int) -> dict[str, Any]:
    row = await (await conn.execute(_ONE, {"user_id": user_id, "id": sub_id})).fetchone()
    if row is None:
        raise not_found("subscription")
    return row


async def check_category(conn: AsyncConnection[DictRow], user_id: Any, category_id: int) -> None:
    found = await (
        await conn.execute(_CATEGORY_EXISTS, {"id": category_id, "user_id": user_id})
    ).fetchone()
    if found is None:
        raise not_found("category")


def _duplicate(row: dict[str, Any]) -> AltError:
    return AltError(
        409,
        "already_subscribed",
        f"You are already subscribed to this feed (as \u201c{row['title']}\u201d).",
        {"subscription_id": row["id"]},
    )


def router(limits: FetchLimits) -> APIRouter:
    r = APIRouter(route_class=PrivateRoute, tags=["subscriptions"])

    @r.post(
        "/v1/subscriptions",
        status_code=201,
        response_model=SubscribedOut,
        responses={
            404: {"description": "no such category"},
            409: {"description": "already subscribed"},
            422: {"description": "not a URL, a refused URL, or not a feed"},
        },
    )
    async def subscribe(body: SubscribeRequest, user: CurrentUser, ctx: Context) -> SubscribedOut:
        """Subscribe to a feed, or to the feed a web page names; answers the feed and its
        newest articles."""
        try:
            url = feed_address.feed_url(body.url, limits)
        except feed_address.UrlRefused as exc:
            raise feed_address.refused(exc) from None
        pool = pool_of(ctx)
        params: dict[str, Any] = {"user_id": user.id, "url": url, "feed_id": None}
        async with pool.connection() as conn:
            if body.category_id is not None:
                await check_category(conn, user.id, body.category_id)
            duplicate = await (await conn.execute(_DUPLICATE, params)).fetchone()
            if duplicate is not None:
                raise _duplicate(duplicate)
            known = await (await conn.execute(_KNOWN_GOOD_FEED, params)).fetchone()
        # A feed someone already reads (and that worked) needs no new fetch; anything else
        # is fetched and checked by the pre-processor, outside any transaction.
        feed_id = known["id"] if known else (await feed_address.discover(ctx, url)).feed_id
        async with pool.connection() as conn:
            params["feed_id"] = feed_id
            try:
                inserted = await (
                    await conn.execute(
                        _SUBSCRIBE,
                        {
                            "user_id": user.id,
                            "feed_id": feed_id,
                            "category_id": body.category_id,
                            "title": body.title,
                        },
                    )
                ).fetchone()
            except errors.ForeignKeyViolation:  # the category went away meanwhile
                raise not_found("category") from None
            if inserted is None:  # the page led to a feed the caller already reads
                duplicate = await (await conn.execute(_DUPLICATE, params)).fetchone()
                assert duplicate is not None
                raise _duplicate(duplicate)
            await notify_feeds_due(conn)
            row = await _fetch_one(conn, user.id, inserted["id"])
            newest = await (
                await conn.execute(_NEWEST, {"feed_id": feed_id, "limit": NEW_ARTICLES})
            ).fetchall()
        return SubscribedOut(
            **_subscription_fields(row), articles=[ArticleBrief(**article) for article in newest]
        )

    @r.get("/v1/subscriptions", response_model=SubscriptionPage)
    async def list_subscriptions(
        user: CurrentUser,
        ctx: Context,
        after: Annotated[
            int, Query(ge=0, le=PG_BIGINT_MAX, description="the `next_after` of the previous page")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    ) -> SubscriptionPage:
        """The caller's subscriptions in the order they were made, with category and unread
        count."""
        async with pool_of(ctx).connection() as conn:
            rows = await (
                await conn.execute(_PAGE, {"user_id": user.id, "after": after, "limit": limit + 1})
            ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return SubscriptionPage(
            subscriptions=[subscription_out(row) for row in rows],
            next_after=rows[-1]["id"] if more else None,
        )

    @r.get(
        "/v1/subscriptions/{id}",
        response_model=SubscriptionOut,
        responses={404: {"description": "no such subscription"}},
    )
    async def get_subscription(id: ObjectId, user: CurrentUser, ctx: Context) -> SubscriptionOut:
        async with pool_of(ctx).connection() as conn:
            return subscription_out(await _fetch_one(conn, user.id, id))

    @r.patch(
        "/v1/subscriptions/{id}",
        response_model=SubscriptionOut,
        responses={404: {"description": "no such subscription or category"}},
    )
    async def change_subscription(
        id: ObjectId, body: SubscriptionChange, user: CurrentUser, ctx: Context
    ) -> SubscriptionOut:
        """Rename (`title`; null goes back to the feed's own) or move (`category_id`; null
        leaves it uncategorised)."""
        changes = body.model_fields_set
        if not changes:
            raise AltError(
                422,
                "validation_failed",
                "Nothing to change: send a title, a category_id, or both.",
                [{"field": "request", "problem": "no field to change"}],
            )
        sets = [f"{name} = %({name})s" for name in ("title", "category_id") if name in changes]
        params = {
            "id": id,
            "user_id": user.id,
            "title": body.title,
            "category_id": body.category_id,
        }
        async with pool_of(ctx).connection() as conn:
            if body.category_id is not None:
                await check_category(conn, user.id, body.category_id)
            try:
                updated = await (
                    await conn.execute(
                        f"UPDATE subscriptions SET {', '.join(sets)}"  # noqa: S608 (fixed names)
                        " WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id",
                        params,
                    )
                ).fetchone()
            except errors.ForeignKeyViolation:  # the category went away meanwhile
                raise not_found("category") from None
            if updated is None:
                raise not_found("subscription")
            return subscription_out(await _fetch_one(conn, user.id, id))

    @r.delete(
        "/v1/subscriptions/{id}",
        status_code=204,
        response_class=Response,
        responses={404: {"description": "no such subscription"}},
    )
    async def unsubscribe(id: ObjectId, user: CurrentUser, ctx: Context) -> Response:
        """Unsubscribe: your subscription and your read marks and stars of its articles go;
        nobody else's."""
        params = {"id": id, "user_id": user.id}
        async with pool_of(ctx).connection() as conn:
            for statement in _UNSUBSCRIBE[:-1]:
                await conn.execute(statement, params)
            gone = await (await conn.execute(_UNSUBSCRIBE[-1], params)).fetchone()
            if gone is None:
                raise not_found("subscription")
        return Response(status_code=204)

    @r.post(
        "/v1/subscriptions/{id}/refresh",
        status_code=202,
        response_model=RefreshOut,
        responses={404: {"description": "no such subscription"}},
    )
    async def refresh(id: ObjectId, user: CurrentUser, ctx: Context) -> RefreshOut:
        """Check the feed now: it is due at once and its fetcher is woken."""
        async with pool_of(ctx).connection() as conn:
            row = await (await conn.execute(_REFRESH, {"id": id, "user_id": user.id})).fetchone()
            if row is None:
                raise not_found("subscription")
            await notify_feeds_due(conn)
        return RefreshOut(**row)

    return r
