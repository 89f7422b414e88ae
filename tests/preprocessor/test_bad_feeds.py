"""Feeds that go wrong in odd ways, fetched for real from an origin on loopback: a bad character
costs only itself (the feed says what was repaired), and whatever breaks on one feed is that
feed's failure, recorded and scheduled, while the rest of the round is stored and released."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alt.config import Settings
from alt.feeds import parse as feed_parse
from alt.platform.db import Pool
from alt.preprocessor import parse_worker
from alt.preprocessor.fetcher import FeedFetcher, Outcome
from alt.preprocessor.parsing import FeedParsers
from alt.preprocessor.settings import IngestSettings
from tests.helpers import free_port, serving
from tests.preprocessor.conftest import egress_for, subscribe


def _rss(items: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode("utf-8", "surrogatepass")


def _item(guid: str, title: str) -> str:
    return f"<item><guid>{guid}</guid><title>{title}</title><link>https://x.example/{guid}</link></item>"


GOOD_RSS = _rss([_item("a", "A"), _item("b", "B"), _item("c", "C")])
FEEDS: dict[str, tuple[bytes, str, dict[str, str]]] = {
    "good.xml": (GOOD_RSS, "application/rss+xml", {}),
    "reference.xml": (
        _rss([_item("a", "A"), _item("bad", "bad &#xD800; title"), _item("c", "C")]),
        "application/rss+xml",
        {},
    ),
    "bytes.xml": (
        _rss([_item("a", "A"), _item("bad", "bad \ud800 title"), _item("c", "C")]),
        "application/rss+xml",
        {},
    ),
    "lone.json": (
        json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": "J",
                "items": [
                    {"id": "a", "title": "A", "content_text": "a"},
                    {"id": "bad", "title": "bad \ud800 title", "content_html": "<p>x\udfff</p>"},
                    {"id": "c", "title": "C", "content_text": "c"},
                ],
            }
        ).encode(),
        "application/feed+json",
        {},
    ),
    # A validator longer than the column that keeps it.
    "long-etag.xml": (GOOD_RSS, "application/rss+xml", {"etag": '"' + "e" * 2000 + '"'}),
    "crash.xml": (GOOD_RSS, "application/rss+xml", {}),
}


async def _feed(request: Request) -> Response:
    body, media_type, headers = FEEDS[request.path_params["name"]]
    return Response(body, media_type=media_type, headers=headers)


@pytest.fixture
async def origin() -> AsyncIterator[int]:
    port = free_port()
    async with serving({port: Starlette(routes=[Route("/{name}", _feed)])}):
        yield port


def _url(port: int, name: str) -> str:
    return f"http://127.0.0.1:{port}/{name}"


def _feeds(app_url: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(app_url, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT f.*, (SELECT count(*) FROM articles a WHERE a.feed_id = f.id) AS articles,"
            " (SELECT array_agg(title ORDER BY title) FROM articles a WHERE a.feed_id = f.id)"
            " AS titles FROM feeds f"
        ).fetchall()
    return {row["url"].rsplit("/", 1)[1]: row for row in rows}


FetchRound = Callable[[int, list[str]], Awaitable[list[Outcome]]]


@pytest.fixture
def fetch_round(pool: Pool, settings: Settings, app_url: str, origin: int) -> FetchRound:
    """Subscribe to the named feeds and fetch them in one round, with that many parse workers."""

    async def run(workers: int, names: list[str]) -> list[Outcome]:
        subscribe(app_url, [_url(origin, name) for name in names])
        async with (
            egress_for(settings, origin) as egress,
            FeedParsers(workers=workers) as parsers,
        ):
            fetcher = FeedFetcher(pool, egress, IngestSettings(), app_url, parsers=parsers)
            return await fetcher.run_once()

    return run


def _assert_failed_and_released(feed: dict[str, Any], error: str) -> None:
    assert feed["last_error"] == error
    assert feed["error_count"] == 1
    assert feed["claimed_until"] is None
    assert feed["next_check_at"] > datetime.now(UTC)
    assert feed["articles"] == 0


def _assert_stored(feed: dict[str, Any]) -> None:
    assert feed["articles"] == 3, feed["last_error"]
    assert feed["error_count"] == 0
    assert feed["claimed_until"] is None
    assert feed["next_check_at"] > datetime.now(UTC)


@pytest.mark.parametrize("workers", [0, 1])
async def test_a_surrogate_costs_only_itself_and_the_feed_records_a_warning(
    fetch_round: FetchRound, app_url: str, workers: int
) -> None:
    names = ["reference.xml", "bytes.xml", "lone.json", "good.xml"]
    outcomes = await fetch_round(workers, names)
    assert [o.error for o in outcomes] == [None] * 4
    feeds = _feeds(app_url)
    for name in names[:3]:
        _assert_stored(feeds[name])
        assert "bad \ufffd title" in feeds[name]["titles"], name
        assert "replaced with U+FFFD" in feeds[name]["last_warnings"], name
    _assert_stored(feeds["good.xml"])
    assert feeds["good.xml"]["last_warnings"] is None


@pytest.mark.parametrize("workers", [0, 1])
async def test_a_validator_too_long_to_keep_is_dropped_and_the_feed_stored(
    fetch_round: FetchRound, app_url: str, workers: int
) -> None:
    outcomes = await fetch_round(workers, ["long-etag.xml", "good.xml"])
    assert [o.error for o in outcomes] == [None, None]
    feeds = _feeds(app_url)
    _assert_stored(feeds["long-etag.xml"])
    assert feeds["long-etag.xml"]["etag"] is None
    _assert_stored(feeds["good.xml"])


async def test_a_parser_bug_in_process_is_that_feeds_parse_failure(
    fetch_round: FetchRound, app_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No known document breaks the parser any more: inject an error no parser code expects.
    real_parse = feed_parse.parse_feed

    def breaks_on_crash(body: bytes, *, url: str, **kwargs: Any) -> feed_parse.ParsedFeed:
        if url.endswith("/crash.xml"):
            raise LookupError("a bug")
        return real_parse(body, url=url, **kwargs)

    monkeypatch.setattr(parse_worker, "parse_feed", breaks_on_crash)
    outcomes = await fetch_round(0, ["good.xml", "crash.xml", "reference.xml"])
    error = "parse error: the parser failed on this feed (LookupError)"
    assert sorted(o.error or "" for o in outcomes) == ["", "", error]
    feeds = _feeds(app_url)
    _assert_failed_and_released(feeds["crash.xml"], error)
    _assert_stored(feeds["good.xml"])
    _assert_stored(feeds["reference.xml"])


async def test_anything_that_breaks_on_one_feed_is_that_feeds_failure(
    pool: Pool, settings: Settings, app_url: str, origin: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["good.xml", "crash.xml", "lone.json"]
    subscribe(app_url, [_url(origin, name) for name in names])
    async with egress_for(settings, origin) as egress, FeedParsers(workers=0) as parsers:
        real_parse = parsers.parse

        async def breaks_on_crash(body: bytes, *, url: str, **kwargs: Any) -> Any:
            if url.endswith("/crash.xml"):
                raise KeyError("a bug")  # past the parser's own guard: the fetcher's is left
            return await real_parse(body, url=url, **kwargs)

        monkeypatch.setattr(parsers, "parse", breaks_on_crash)
        fetcher = FeedFetcher(pool, egress, IngestSettings(), app_url, parsers=parsers)
        outcomes = await fetcher.run_once()
    assert sorted(o.error or "" for o in outcomes) == ["", "", "internal error: KeyError"]
    feeds = _feeds(app_url)
    _assert_failed_and_released(feeds["crash.xml"], "internal error: KeyError")
    _assert_stored(feeds["good.xml"])
    _assert_stored(feeds["lone.json"])
