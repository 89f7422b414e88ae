"""Feed parsing in worker processes: the same result as in process, and a dead worker costs
only the feeds it was reading."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime

import psutil
import pytest
from bench.ingest.farm import render

from alt.feeds.parse import FeedParseError, parse_feed
from alt.preprocessor.parsing import FeedParsers

NOW = datetime(2026, 11, 1, tzinfo=UTC)
URL = "https://news.example/feed.xml"


def _workers() -> list[psutil.Process]:
    """This process's parser workers (not multiprocessing's resource tracker)."""
    return [p for p in psutil.Process().children() if "spawn_main" in " ".join(p.cmdline())]


async def test_workers_parse_as_the_fetcher_would() -> None:
    parsers = FeedParsers(workers=2)
    try:
        await parsers.start()
        assert len(_workers()) == 2
        body = render(7, 0, False)
        parsed = await asyncio.gather(
            *(parsers.parse(body, url=URL, content_type=None, fetched_at=NOW) for _ in range(4))
        )
        here = parse_feed(body, url=URL, content_type=None, fetched_at=NOW)
        assert all(feed == here for feed in parsed)
        with pytest.raises(FeedParseError, match="not a feed"):
            await parsers.parse(b"<html></html>", url=URL, content_type=None, fetched_at=NOW)
    finally:
        parsers.close()
    assert _workers() == []


async def test_a_killed_worker_fails_its_feed_and_a_new_pool_takes_over() -> None:
    parsers = FeedParsers(workers=1)
    try:
        await parsers.start()
        (worker,) = _workers()
        parsing = asyncio.create_task(
            parsers.parse(_slow_to_parse(), url=URL, content_type=None, fetched_at=NOW)
        )
        busy_since = sum(worker.cpu_times()[:2])
        while sum(worker.cpu_times()[:2]) < busy_since + 0.05:  # noqa: ASYNC110 (polls a process)
            await asyncio.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)
        with pytest.raises(FeedParseError, match="parser stopped"):
            await parsing
        feed = await parsers.parse(render(1, 0, False), url=URL, content_type=None, fetched_at=NOW)
        assert len(feed.entries) == 20
        assert [p.pid for p in _workers()] != [worker.pid]
    finally:
        parsers.close()


def _slow_to_parse() -> bytes:
    """A feed of 500 items with much markup: a second or so of parsing and sanitising."""
    markup = "<p>" + '<a href="/x">word</a> <b>bold</b> ' * 300 + "</p>"
    items = "".join(
        f"<item><guid>g{n}</guid><description><![CDATA[{markup}]]></description></item>"
        for n in range(500)
    )
    return f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode()
