"""Feeds: the shared sources every subscription points at, and waking their fetchers.

A feed row is shared by its readers, so nothing here lets one user name a feed (or its site)
for others: only URLs come from users.
"""

from __future__ import annotations

from typing import TypedDict, cast

from alt.platform.db import Connection

FEEDS_DUE_CHANNEL = "alt_feeds_due"


class FeedRef(TypedDict):
    id: int
    url: str
    title: str


# A feed that fetched well: a new reader of it needs no fetch first.
_WORKING = """
SELECT id, url, title, site_url FROM feeds
 WHERE url = %(url)s AND status = 'active' AND last_success_at IS NOT NULL
"""

# New feeds are due at once (next_check_at defaults to now()).
_ADD_URLS = """
INSERT INTO feeds (url) SELECT unnest(%(urls)s::text[])
ON CONFLICT (url) DO NOTHING
"""

_BY_URLS = "SELECT id, url, title FROM feeds WHERE url = ANY (%(urls)s::text[])"


async def working(conn: Connection, url: str) -> int | None:
    """The id of the active feed at `url` that has been fetched successfully, if any."""
    row = await (await conn.execute(_WORKING, {"url": url})).fetchone()
    return None if row is None else int(row["id"])


async def add_urls(conn: Connection, urls: list[str]) -> dict[str, FeedRef]:
    """The feed of each URL, by URL, adding the missing ones (due at once). Pass the URLs in
    one order every time (sorted), so that concurrent callers do not deadlock."""
    await conn.execute(_ADD_URLS, {"urls": urls})
    rows = await (await conn.execute(_BY_URLS, {"urls": urls})).fetchall()
    return {row["url"]: cast(FeedRef, row) for row in rows}


async def notify_due(conn: Connection) -> None:
    """Wake the pre-processor's fetchers (delivered when the transaction commits)."""
    await conn.execute("SELECT pg_notify(%s, '')", (FEEDS_DUE_CHANNEL,))
