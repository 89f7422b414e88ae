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

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from alt.backend import storage
from alt.backend.feed_address import UrlRefused, feed_url
from alt.backend.schemas import (
    MAX_TITLE,
    ImportedFeed,
    ImportFailed,
    ImportReport,
    ImportSkipped,
)
from alt.backend.storage.feeds import FeedRef
from alt.backend.web import CurrentUser, Db, Limits, PrivateRoute
from alt.feeds.opml import (
    MAX_OPML_BYTES,
    OpmlError,
    OpmlImport,
    OpmlSubscription,
    parse_opml,
    render_opml,
)
from alt.platform.db import Connection, autocommit, transaction
from alt.platform.egress import FetchLimits
from alt.platform.errors import AltError

OPML_MEDIA_TYPE = "application/xml"
EXPORT_FILENAME = "alt-subscriptions.opml"
FILE_FIELD = "file"

router = APIRouter(route_class=PrivateRoute, tags=["opml"])


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


def _own_title(subscription: OpmlSubscription, feed: FeedRef) -> str | None:
    """The file's name for the feed, as the user's own where it differs from the feed's."""
    title = _title_for(subscription)
    return None if title in (feed["title"], feed["url"]) else title


@dataclass
class Screened:
    """A file's feeds sorted before anything is stored: those to subscribe to (by URL, in the
    file's order), and those skipped or failed, with why."""

    wanted: dict[str, OpmlSubscription] = field(default_factory=dict)
    skipped: list[ImportSkipped] = field(default_factory=list)
    failed: list[ImportFailed] = field(default_factory=list)


def screen(parsed: OpmlImport, limits: FetchLimits) -> Screened:
    """What the parser refused, the URLs the egress policy refuses, and the file's repeats
    are set aside; the rest is wanted, under the URL the fetcher would use."""
    out = Screened()
    for rejected in parsed.rejected:
        if rejected.reason.startswith("duplicate"):
            out.skipped.append(
                ImportSkipped(url=rejected.xml_url, title=rejected.title, reason=rejected.reason)
            )
        else:
            out.failed.append(
                ImportFailed(url=rejected.xml_url, title=rejected.title, reason=rejected.reason)
            )
    for subscription in parsed.subscriptions:
        try:
            url = feed_url(subscription.xml_url, limits)
        except UrlRefused as exc:
            out.failed.append(
                ImportFailed(url=subscription.xml_url, title=subscription.title, reason=exc.message)
            )
            continue
        if url in out.wanted:
            out.skipped.append(
                ImportSkipped(
                    url=url, title=subscription.title, reason="duplicate: already in this file"
                )
            )
            continue
        out.wanted[url] = subscription
    return out


async def import_opml(
    conn: Connection, user_id: Any, parsed: OpmlImport, limits: FetchLimits
) -> ImportReport:
    """Subscribe the user to the file's feeds, making the missing feeds and categories. Run
    in a transaction: the import is whole or not at all, and one at a time per user (a
    double-clicked upload waits instead of racing)."""
    screened = screen(parsed, limits)
    wanted, skipped = screened.wanted, screened.skipped
    if not wanted:
        return ImportReport(
            added=[], skipped=skipped, failed=screened.failed, warnings=parsed.warnings
        )

    await storage.subscriptions.one_import_at_a_time(conn, user_id)
    categories = await storage.categories.ensure(
        conn, user_id, (s.category for s in wanted.values() if s.category)
    )
    # One order for every import: concurrent ones do not deadlock.
    feeds = await storage.feeds.add_urls(conn, sorted(wanted))
    chosen = [
        (url, s, feeds[url], categories.get(s.category) if s.category else None)
        for url, s in wanted.items()
    ]
    made = await storage.subscriptions.add_many(
        conn,
        user_id,
        feed_ids=[feed["id"] for _, _, feed, _ in chosen],
        category_ids=[category["id"] if category else None for *_, category in chosen],
        titles=[_own_title(s, feed) for _, s, feed, _ in chosen],
    )

    added: list[ImportedFeed] = []
    for url, subscription, feed, category in chosen:
        if feed["id"] in made:
            added.append(
                ImportedFeed(
                    subscription_id=made[feed["id"]],
                    feed_id=feed["id"],
                    url=url,
                    title=_title_for(subscription),
                    category=category["name"] if category else None,
                )
            )
        else:
            skipped.append(
                ImportSkipped(url=url, title=subscription.title, reason="already subscribed")
            )
    if added:
        await storage.feeds.notify_due(conn)
    return ImportReport(
        added=added, skipped=skipped, failed=screened.failed, warnings=parsed.warnings
    )


@router.post(
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
async def import_file(request: Request, user: CurrentUser, db: Db, limits: Limits) -> ImportReport:
    """Import an OPML file (multipart field `file`, or the raw body); feeds are fetched
    later, in the background."""
    parsed = _parse(await _read_upload(request))
    async with transaction(db) as conn:
        return await import_opml(conn, user.id, parsed, limits)


@router.get(
    "/v1/opml/export",
    response_class=Response,
    responses={
        200: {
            "content": {OPML_MEDIA_TYPE: {}},
            "description": "the caller's subscriptions as OPML 2.0",
        }
    },
)
async def export_file(user: CurrentUser, db: Db) -> Response:
    async with autocommit(db) as conn:
        rows = await storage.subscriptions.for_export(conn, user.id)
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
