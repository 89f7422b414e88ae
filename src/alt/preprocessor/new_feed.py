"""A new feed, behind `/v1/feeds/discover`: from what a user typed to a stored feed. Fetch it;
if it is a web page, find its feed by autodiscovery (`alt.feeds.autodiscovery`) or the usual
paths; store the feed and its first entries. Documents are parsed as the fetcher parses them
(`FeedParsers`: in a worker, under its CPU budget). alt-backend has checked the address before
(`alt.backend.feed_address`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

from alt.feeds.autodiscovery import COMMON_FEED_PATHS, discover_feed_links
from alt.feeds.parse import FeedParseError, ParsedFeed
from alt.platform.db import Pool
from alt.platform.egress import EgressClient, FetchError, FetchResult
from alt.preprocessor import store
from alt.preprocessor.parsing import FeedParsers
from alt.preprocessor.settings import IngestSettings

MAX_CANDIDATES = 8


class NotAFeed(Exception):
    """Nothing at that address is a feed we can read; the message says what we found."""


class FeedUnreadable(Exception):
    """The address is a feed, but one we cannot parse; the message says why."""


@dataclass(frozen=True)
class Found:
    feed_id: int
    url: str
    title: str
    site_url: str | None
    inserted: int


_UPSERT_FEED = """
INSERT INTO feeds (url, title, site_url, description, language, ttl_seconds)
VALUES (%(url)s, %(title)s, %(site_url)s, %(description)s, %(language)s, %(ttl_seconds)s)
ON CONFLICT (url) DO UPDATE SET url = EXCLUDED.url
RETURNING id
"""


async def _try(
    egress: EgressClient, parsers: FeedParsers, url: str
) -> tuple[FetchResult, ParsedFeed | FeedParseError]:
    result = await egress.fetch(url, kind="feed")
    try:
        feed = await parsers.parse(
            result.body,
            url=result.url,
            content_type=result.content_type,
            fetched_at=datetime.now(UTC),
        )
    except FeedParseError as exc:
        return result, exc
    return result, feed


async def find_feed(
    egress: EgressClient, parsers: FeedParsers, url: str
) -> tuple[str, FetchResult, ParsedFeed]:
    """The feed at `url`, or the first feed the page at `url` points to. Raises FetchError
    when `url` itself cannot be fetched, FeedUnreadable when it is a feed we cannot parse,
    NotAFeed when no feed is found."""
    result, feed = await _try(egress, parsers, url)
    if isinstance(feed, ParsedFeed):
        return url, result, feed
    if not feed.not_a_feed:
        raise FeedUnreadable(f"The feed at {url} could not be parsed: {feed}")
    candidates = discover_feed_links(result.body, result.url)
    candidates += [urljoin(result.url, path) for path in COMMON_FEED_PATHS]
    tried: set[str] = {url, result.url}
    for candidate in candidates:
        if candidate in tried or len(tried) > MAX_CANDIDATES:
            continue
        tried.add(candidate)
        try:
            found_result, found = await _try(egress, parsers, candidate)
        except FetchError:
            continue
        if isinstance(found, ParsedFeed):
            return candidate, found_result, found
    raise NotAFeed(f"{url} is not a feed ({feed}) and names no feed we could read")


@dataclass(frozen=True)
class Choice:
    url: str
    title: str


async def _parsed(egress: EgressClient, parsers: FeedParsers, url: str) -> Choice | None:
    try:
        _, feed = await _try(egress, parsers, url)
    except FetchError:
        return None
    return Choice(url, feed.title) if isinstance(feed, ParsedFeed) else None


async def list_feeds(egress: EgressClient, parsers: FeedParsers, url: str) -> list[Choice]:
    """The feeds to choose from at `url`: the feed itself, or every readable feed the page
    announces (checked together), else the one `find_feed` finds on the usual paths. Raises as
    `find_feed` does; stores nothing."""
    result, feed = await _try(egress, parsers, url)
    if isinstance(feed, ParsedFeed):
        return [Choice(url, feed.title)]
    if not feed.not_a_feed:
        raise FeedUnreadable(f"The feed at {url} could not be parsed: {feed}")
    announced = [c for c in discover_feed_links(result.body, result.url) if c != url]
    checked = await asyncio.gather(
        *(_parsed(egress, parsers, c) for c in announced[:MAX_CANDIDATES])
    )
    found = [choice for choice in checked if choice is not None]
    if found:
        return found
    found_url, _, found_feed = await find_feed(egress, parsers, url)
    return [Choice(found_url, found_feed.title)]


async def store_new_feed(
    pool: Pool, policy: IngestSettings, url: str, result: FetchResult, feed: ParsedFeed
) -> Found:
    now = datetime.now(UTC)
    async with pool.connection() as conn, conn.transaction():
        row = await (
            await conn.execute(
                _UPSERT_FEED,
                {
                    "url": url,
                    "title": feed.title,
                    "site_url": feed.site_url,
                    "description": feed.description,
                    "language": feed.language,
                    "ttl_seconds": feed.ttl_seconds,
                },
            )
        ).fetchone()
        assert row is not None
        feed_id: int = row["id"]
        inserted, _ = await store.write_alone(
            conn, store.Fetched.of(feed_id, feed, result, now, policy)
        )
    return Found(feed_id, url, feed.title, feed.site_url, inserted)
