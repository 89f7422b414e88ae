"""Feed parsing in worker processes: the same result as in process, and a dead or stuck worker
costs only the feeds it was reading."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import psutil
import pytest

from alt.feeds.parse import FeedParseError, parse_feed
from alt.preprocessor.parse_worker import frame, read_message
from alt.preprocessor.parsing import FeedParsers
from tests.support.farm import render
from tests.support.waiting import until

NOW = datetime(2026, 11, 1, tzinfo=UTC)
URL = "https://news.example/feed.xml"


def _workers() -> list[psutil.Process]:
    return [
        p for p in psutil.Process().children() if "alt.preprocessor.parse_worker" in p.cmdline()
    ]


def _slow_to_parse(items: int = 500) -> bytes:
    """A feed of many items with much markup: about a second of parsing per 500 items."""
    markup = "<p>" + '<a href="/x">word</a> <b>bold</b> ' * 300 + "</p>"
    entries = "".join(
        f"<item><guid>g{n}</guid><description><![CDATA[{markup}]]></description></item>"
        for n in range(items)
    )
    return f"<rss version='2.0'><channel><title>T</title>{entries}</channel></rss>".encode()


async def test_workers_parse_as_the_fetcher_would() -> None:
    async with FeedParsers(workers=2) as parsers:
        assert len(_workers()) == 2
        bodies = [render(n, 0, False) for n in range(6)]
        parsed = await asyncio.gather(
            *(parsers.parse(b, url=URL, content_type=None, fetched_at=NOW) for b in bodies)
        )
        here = [parse_feed(b, url=URL, content_type=None, fetched_at=NOW) for b in bodies]
        assert parsed == here  # and each answer went to the feed that asked
        with pytest.raises(FeedParseError, match="not a feed"):
            await parsers.parse(b"<html></html>", url=URL, content_type=None, fetched_at=NOW)
    assert _workers() == []


async def test_a_killed_worker_fails_its_feeds_and_a_new_one_takes_over() -> None:
    async with FeedParsers(workers=1) as parsers:
        (worker,) = _workers()
        parsing = [
            asyncio.create_task(
                parsers.parse(_slow_to_parse(), url=URL, content_type=None, fetched_at=NOW)
            )
            for _ in range(2)
        ]
        busy_since = sum(worker.cpu_times()[:2])

        async def parsing_started() -> bool:
            return bool(sum(worker.cpu_times()[:2]) >= busy_since + 0.05)

        await until(parsing_started, 30, "the worker is busy parsing")
        os.kill(worker.pid, signal.SIGKILL)
        for task in parsing:  # the one it was reading and the one queued behind it
            with pytest.raises(FeedParseError, match="parser stopped"):
                await task
        feed = await parsers.parse(render(1, 0, False), url=URL, content_type=None, fetched_at=NOW)
        assert len(feed.entries) == 20
        assert [p.pid for p in _workers()] != [worker.pid]


def test_a_document_over_the_cpu_budget_is_refused_and_the_worker_goes_on() -> None:
    import pickle

    budget_s = 0.2  # the feed takes about a second
    jobs = [(_slow_to_parse(), URL, None, NOW)]
    jobs.append((render(1, 0, False), URL, None, NOW))
    stdin = b"".join(frame(pickle.dumps(job)) for job in jobs)
    done = subprocess.run(
        [sys.executable, "-m", "alt.preprocessor.parse_worker", str(budget_s)],
        input=stdin,
        capture_output=True,
        check=True,
        timeout=60,
    )
    out = io.BytesIO(done.stdout)
    answers = []
    while (message := read_message(out)) is not None:
        answers.append(pickle.loads(message))  # noqa: S301 (our own worker)
    assert answers[0] == ("error", "the feed took more than 0.2 s of CPU time to parse")
    assert answers[1][0] == "ok"
    assert len(answers[1][1].entries) == 20
