"""A feed farm on loopback: N generated feeds of ~20 items each, with ETags, served by one
process. Clients see every feed on a host of its own (`f<n>.farm.test`, which the readers'
resolver maps to 127.0.0.1), so per-host politeness applies as it would on the internet.

Every feed answers after a latency of its own, as servers on the internet do: drawn once per
feed from a log-normal distribution (median 120 ms, sigma 0.6: p90 ≈ 260 ms, p99 ≈ 480 ms), the
round trip plus the server's think time. It is calibrated so that the naive baseline takes
about what it was measured to take on these machines (~6 s for a 304 round of 1,000 feeds).
Items carry ~1.5 KB of HTML each (paragraphs, links, an image, entities), as real feeds do.

Some feeds misbehave, chosen by feed number: slow (2 s), failing, rate-limited, redirecting,
gzip'd, huge or malformed. `POST /round` moves the farm to the next round, in which one feed
in ten has new items and the rest answer 304 to a matching If-None-Match.

Run: python -m tests.support.farm --feeds 1000 --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import math
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import uvicorn

ITEMS = 20
SLOW_S = 2.0
LATENCY_MEDIAN_S = 0.120
LATENCY_SIGMA = 0.6


def latency_of(feed: int) -> float:
    """The feed's server latency, the same on every request and in every run."""
    draw = random.Random(feed).gauss(0.0, LATENCY_SIGMA)
    return min(LATENCY_MEDIAN_S * math.exp(draw), SLOW_S)


@dataclass(frozen=True)
class Kind:
    slow: bool
    failing: bool
    limited: bool
    redirecting: bool
    gzipped: bool
    huge: bool
    malformed: bool
    gone: bool

    @property
    def healthy(self) -> bool:
        """Answers with a feed that every reader should store in full."""
        return not (self.failing or self.limited or self.malformed or self.gone)


def kind_of(feed: int) -> Kind:
    return Kind(
        slow=feed % 100 == 7,
        failing=feed % 100 == 13,
        limited=feed % 100 == 29,
        redirecting=feed % 50 == 3,
        gzipped=feed % 5 == 1,
        huge=feed % 1000 == 999,
        malformed=feed % 100 == 41,
        gone=feed % 100 == 53,
    )


FARM_DOMAIN = "farm.test"


class FarmResolver:
    """Stands in for the internet's DNS: every farm host is the farm on loopback."""

    async def resolve(self, host: str, port: int) -> list[IPv4Address | IPv6Address]:
        if host.endswith("." + FARM_DOMAIN):
            return [ip_address("127.0.0.1")]
        raise OSError(f"unknown host {host}")


def url_of(feed: int, port: int) -> str:
    return f"http://f{feed}.{FARM_DOMAIN}:{port}/feed/{feed}"


def site_of(feed: int, port: int) -> str:
    """A web page that names its feed by autodiscovery."""
    return f"http://f{feed}.{FARM_DOMAIN}:{port}/site/{feed}"


def changes_in(feed: int, round_: int) -> bool:
    return round_ > 1 and feed % 10 == round_ % 10


def version_of(feed: int, round_: int) -> int:
    return sum(1 for r in range(2, round_ + 1) if changes_in(feed, r))


def items_of(feed: int, version: int) -> int:
    """Items in a feed at a version: each version adds 2 new items (the newest 20 are served)."""
    return ITEMS + 2 * version


# Every version of every feed is made once: the farm plays the internet, whose servers do not
# spend the fetchers' two cores on making their feeds.
@cache
def render(feed: int, version: int, huge: bool) -> bytes:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    total = items_of(feed, version)
    items = []
    for n in range(total - ITEMS, total):
        when = format_datetime(base + timedelta(hours=n))
        padding = ("<p>" + "lorem ipsum dolor sit amet " * 400 + "</p>") if huge else ""
        items.append(
            f"<item><title>Feed {feed} item {n} &amp; more</title>"
            f"<link>https://news.example/{feed}/{n}</link><guid>f{feed}-i{n}</guid>"
            f"<pubDate>{when}</pubDate><description><![CDATA[<p>Story {n} of feed {feed}: "
            f'<a href="https://news.example/{feed}/{n}">read</a> with <b>markup</b>.</p>'
            f"{_body(feed, n)}{padding}]]></description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><link>https://news.example/{feed}/</link>"
        f"<description>Generated feed {feed}</description>{''.join(items)}"
        f"</channel></rss>"
    ).encode()


_PARAGRAPH = (
    "<p>The council met on Tuesday to discuss the budget &mdash; and, as expected, the "
    '<a href="https://news.example/{feed}/{n}/context">{n} proposals</a> drew a crowd. '
    "<em>Residents</em> asked about roads, schools &amp; the library; the mayor said the "
    "figures would be published “within weeks”.</p>"
)


def _body(feed: int, n: int) -> str:
    """~1.5 KB of the HTML a news item carries: paragraphs, links, an image, entities."""
    paragraphs = "".join(_PARAGRAPH.format(feed=feed, n=n + k) for k in range(4))
    figure = (
        f'<figure><img src="https://cdn.news.example/{feed}/{n}.jpg" alt="Photo {n}" '
        f'width="640" height="360"><figcaption>Photo of story {n}</figcaption></figure>'
    )
    return paragraphs + figure + "<ul><li>One</li><li>Two</li></ul>"


class Farm:
    def __init__(self, feeds: int = 0) -> None:
        self.round = 1
        self.feeds = feeds
        self.hits: Counter[str] = Counter()
        self.make_round()

    def make_round(self) -> None:
        """Make every feed's version for this round before it starts: servers on the internet
        have their feeds ready, and the fetcher that goes first should not pay for them."""
        for feed in range(self.feeds):
            kind = kind_of(feed)
            if kind.healthy:
                version = version_of(feed, self.round)
                render(feed, version, kind.huge)
                if kind.gzipped:
                    _gzipped(feed, version, kind.huge)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path: str = scope["path"]
        self.hits[path] += 1
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if path == "/round" and scope["method"] == "POST":
            self.round += 1
            self.make_round()
            await _answer(send, 200, str(self.round).encode(), [])
            return
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "site" and parts[1].isdigit():
            page = (
                f"<!doctype html><html><head><title>Site {parts[1]}</title>"
                f'<link rel="alternate" type="application/rss+xml" href="/feed/{parts[1]}">'
                f"</head><body><p>Welcome</p></body></html>"
            ).encode()
            await _answer(send, 200, page, [(b"content-type", b"text/html; charset=utf-8")])
            return
        if len(parts) < 2 or parts[0] != "feed" or not parts[1].isdigit():
            await _answer(send, 404, b"no such feed", [])
            return
        await self.feed(send, int(parts[1]), final=parts[2:] == ["real"], headers=headers)

    async def feed(self, send: Any, feed: int, *, final: bool, headers: dict[str, str]) -> None:
        kind = kind_of(feed)
        await asyncio.sleep(SLOW_S if kind.slow else latency_of(feed))
        if kind.failing:
            await _answer(send, 500, b"internal error", [])
            return
        if kind.gone:
            await _answer(send, 410, b"this feed is gone", [])
            return
        if kind.limited:
            await _answer(send, 429, b"slow down", [(b"retry-after", b"3600")])
            return
        if kind.redirecting and not final:
            await _answer(send, 301, b"", [(b"location", f"/feed/{feed}/real".encode())])
            return
        if kind.malformed:
            await _answer(
                send,
                200,
                b"<html><body><p>Oops: not a feed</p></body></html>",
                [(b"content-type", b"application/rss+xml")],
            )
            return
        version = version_of(feed, self.round)
        etag = '"' + hashlib.sha1(f"{feed}:{version}".encode()).hexdigest()[:16] + '"'  # noqa: S324
        if headers.get("if-none-match") == etag:
            await _answer(send, 304, b"", [(b"etag", etag.encode())])
            return
        body = render(feed, version, kind.huge)
        extra = [(b"etag", etag.encode()), (b"content-type", b"application/rss+xml")]
        if kind.gzipped and "gzip" in headers.get("accept-encoding", ""):
            body = _gzipped(feed, version, kind.huge)
            extra.append((b"content-encoding", b"gzip"))
        await _answer(send, 200, body, extra)


@cache
def _gzipped(feed: int, version: int, huge: bool) -> bytes:
    return gzip.compress(render(feed, version, huge), 1)


async def _answer(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def expected_items(feeds: int, round_: int) -> int:
    """Distinct items a complete reader holds after `round_` rounds."""
    total = 0
    for feed in range(feeds):
        if kind_of(feed).healthy:
            total += items_of(feed, version_of(feed, round_))
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--feeds", type=int, default=0, help="feeds to make before serving")
    args = parser.parse_args()
    config = uvicorn.Config(
        Farm(args.feeds),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
