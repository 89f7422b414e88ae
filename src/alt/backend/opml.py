"""OPML import and export.

Import takes a file (multipart field `file`, or the raw body) of at most 1 MiB, read by
`alt.feeds.opml.parse_opml` (no entity expansion, nesting folded to one level of categories,
at most 1,000 feeds). Every feed URL then goes through the egress policy's `check_url`; what
passes becomes a feed row (if new; due at once) and a subscription in its category. Nothing is
fetched inside the request: one NOTIFY at the end wakes the fetchers. The SQL is a handful of
set-based statements whatever the file's size, in one transaction. The answer lists what was
added, what was skipped (already subscribed, listed twice) and what failed, each with why.

Export writes the caller's subscriptions, one folder per category; importing that file into an
empty account gives the same subscriptions, titles and categories.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request, Response
from psycopg import AsyncConnection
from psycopg.rows import DictRow
from starlette.datastructures import UploadFile

from alt.backend.feed_address import UrlRefused, feed_url
from alt.backend.models import (
    MAX_TITLE,
    ImportedFeed,
    ImportFailed,
    ImportReport,
    ImportSkipped,
)
from alt.backend.subscriptions import notify_feeds_due
from alt.backend.web import Context, CurrentUser, PrivateRoute, pool_of
from alt.feeds.opml import (
    MAX_OPML_BYTES,
    OpmlError,
    OpmlImport,
    OpmlSubscription,
    parse_opml,
    render_opml,
)
from alt.platform.egress import FetchLimits
from alt.platform.errors import AltError

OPML_MEDIA_TYPE = "application/xml"
EXPORT_FILENAME = "alt-subscriptions.opml"
FILE_FIELD = "file"

_ONE_AT_A_TIME = "SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))"

_NEW_CATEGORIES = """
INSERT INTO categories (user_id, name)
SELECT %(user_id)s, name FROM unnest(%(names)s::text[]) AS n (name)
ON CONFLICT (user_id, lower(name)) DO NOTHING
"""

# Each name of the file to its folder, matched the way the unique index matches (lower() of
# the database, which is not always Python's).
_CATEGORY_IDS = """
SELECT n.name AS wanted, c.id, c.name
  FROM unnest(%(names)s::text[]) AS n (name)
  JOIN categories c ON c.user_id = %(user_id)s AND lower(c.name) = lower(n.name)
"""

# New feeds are due at once (next_check_at defaults to now()). Only the URL comes from the
# file: a feed row is shared, so one user's file must not name it (or its site) for others;
# the file's title becomes the importing user's own title of the feed instead.
_NEW_FEEDS = """
INSERT INTO feeds (url) SELECT unnest(%(urls)s::text[])
ON CONFLICT (url) DO NOTHING
"""

_FEED_IDS = "SELECT id, url, title FROM feeds WHERE url = ANY (%(urls)s::text[])"

_SUBSCRIBE = """
INSERT INTO subscriptions (user_id, feed_id, category_id, title)
SELECT %(user_id)s, feed_id, category_id, title
  FROM unnest(%(feed_ids)s::bigint[], %(category_ids)s::bigint[], %(titles)s::text[])
       AS n (feed_id, category_id, title)
ON CONFLICT (user_id, feed_id) DO NOTHING
RETURNING id, feed_id
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


async def _read_upload(request: Request) -> bytes:
    """The OPML bytes: the `file` field of a multipart form, else the body itself."""
    body = await request.body()
    too_large = AltError(
        413,
        "payload_too_large",
        f"The OPML file is larger than {MAX_OPML_BYTES // (1024 * 1024)} MiB.",
    )
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get(FILE_FIELD)
        if not isinstance(upload, UploadFile):
            raise AltError(
                422,
                "validation_failed",
                f"Send the OPML file in the form field \u201c{FILE_FIELD}\u201d.",
                [{"field": FILE_FIELD, "problem": "missing"}],
            )
        data = await upload.read(MAX_OPML_BYTES + 1)
        await form.close()
    else:
        data = body
    if len(data) > MAX_OPML_BYTES:
        raise too_large
    if not data.strip():
        raise AltError(422, "invalid_opml", "The OPML file is empty.")
    return data


def _parse(data: bytes) -> OpmlImport:
    try:
        return parse_opml(data)
    except OpmlError as exc:
        raise AltError(422, "invalid_opml", f"That file cannot be imported: {exc}.") from None


def _title_for(subscription: OpmlSubscription) -> str:
    return subscription.title[:MAX_TITLE] if subscription.title else subscription.xml_url


async def _category_ids(
    conn: AsyncConnection[DictRow], user_id: Any, names: Iterable[str]
) -> dict[str, tuple[int, str]]:
    """Each category name of the file -> (id, name as stored), creating the missing ones (a
    new folder is named as the file first spells it)."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    params = {"user_id": user_id, "names": wanted}
    await conn.execute(_NEW_CATEGORIES, params)
    rows = await (await conn.execute(_CATEGORY_IDS, params)).fetchall()
    return {row["wanted"]: (row["id"], row["name"]) for row in rows}


async def import_opml(
    conn: AsyncConnection[DictRow], user_id: Any, parsed: OpmlImport, limits: FetchLimits
) -> ImportReport:
    skipped: list[ImportSkipped] = []
    failed: list[ImportFailed] = []
    for rejected in parsed.rejected:
        if rejected.reason.startswith("duplicate"):
            skipped.append(
                ImportSkipped(url=rejected.xml_url, title=rejected.title, reason=rejected.reason)
            )
        else:
            failed.append(
                ImportFailed(url=rejected.xml_url, title=rejected.title, reason=rejected.reason)
            )
    wanted: dict[str, OpmlSubscription] = {}
    for subscription in parsed.subscriptions:
        try:
            url = feed_url(subscription.xml_url, limits)
        except UrlRefused as exc:
            failed.append(
                ImportFailed(url=subscription.xml_url, title=subscription.title, reason=exc.message)
            )
            continue
        if url in wanted:
            skipped.append(
                ImportSkipped(
                    url=url, title=subscription.title, reason="duplicate: already in this file"
                )
            )
            continue
        wanted[url] = subscription
    if not wanted:
        return ImportReport(added=[], skipped=skipped, failed=failed, warnings=parsed.warnings)

    # One import at a time per user (a double-clicked upload waits instead of racing).
    await conn.execute(_ONE_AT_A_TIME, {"key": f"alt-backend:opml-import:{user_id}"})
    categories = await _category_ids(
        conn, user_id, (s.category for s in wanted.values() if s.category)
    )
    urls = sorted(wanted)  # one order for every import: concurrent ones do not deadlock
    await conn.execute(_NEW_FEEDS, {"urls": urls})
    feeds = {
        row["url"]: row for row in await (await conn.execute(_FEED_IDS, {"urls": urls})).fetchall()
    }

    feed_ids: list[int] = []
    category_ids: list[int | None] = []
    titles: list[str | None] = []
    for url, subscription in wanted.items():
        feed = feeds[url]
        category = categories.get(subscription.category) if subscription.category else None
        title = _title_for(subscription)
        feed_ids.append(feed["id"])
        category_ids.append(category[0] if category else None)
        # The file's name for the feed is the user's own where it differs from the feed's.
        titles.append(None if title in (feed["title"], url) else title)
    rows = await (
        await conn.execute(
            _SUBSCRIBE,
            {
                "user_id": user_id,
                "feed_ids": feed_ids,
                "category_ids": category_ids,
                "titles": titles,
            },
        )
    ).fetchall()
    made = {row["feed_id"]: row["id"] for row in rows}

    added: list[ImportedFeed] = []
    for url, subscription in wanted.items():
        feed = feeds[url]
        category = categories.get(subscription.category) if subscription.category else None
        if feed["id"] in made:
            added.append(
                ImportedFeed(
                    subscription_id=made[feed["id"]],
                    feed_id=feed["id"],
                    url=url,
                    title=_title_for(subscription),
                    category=category[1] if category else None,
                )
            )
        else:
            skipped.append(
                ImportSkipped(url=url, title=subscription.title, reason="already subscribed")
            )
    if added:
        await notify_feeds_due(conn)
    return ImportReport(added=added, skipped=skipped, failed=failed, warnings=parsed.warnings)


def router(limits: FetchLimits) -> APIRouter:
    r = APIRouter(route_class=PrivateRoute, tags=["opml"])

    @r.post(
        "/v1/opml/import",
        response_model=ImportReport,
        openapi_extra={
            "requestBody": {
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                        }
                    },
                    "application/xml": {"schema": {"type": "string"}},
                    "text/x-opml": {"schema": {"type": "string"}},
                }
            }
        },
        responses={
            400: {"description": "a malformed multipart body"},
            413: {"description": "larger than 1 MiB"},
            422: {"description": "not an OPML file"},
        },
    )
    async def import_file(request: Request, user: CurrentUser, ctx: Context) -> ImportReport:
        """Import an OPML file (multipart field `file`, or the raw body); feeds are fetched
        later, in the background."""
        parsed = _parse(await _read_upload(request))
        async with pool_of(ctx).connection() as conn:
            return await import_opml(conn, user.id, parsed, limits)

    @r.get(
        "/v1/opml/export",
        response_class=Response,
        responses={
            200: {
                "content": {OPML_MEDIA_TYPE: {}},
                "description": "the caller's subscriptions as OPML 2.0",
            }
        },
    )
    async def export_file(user: CurrentUser, ctx: Context) -> Response:
        async with pool_of(ctx).connection() as conn:
            rows = await (await conn.execute(_EXPORT, {"user_id": user.id})).fetchall()
        document = render_opml(
            OpmlSubscription(
                xml_url=row["url"],
                title=row["title"],
                html_url=row["site_url"],
                category=row["category"],
            )
            for row in rows
        )
        return Response(
            document,
            media_type=f"{OPML_MEDIA_TYPE}; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    return r
