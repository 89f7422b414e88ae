"""Test harness for alt-backend: a feed origin on loopback.

`FeedOrigin` is a real HTTP server (Starlette on uvicorn) serving generated RSS feeds, web pages
that name their feed, a page that names none, a 404 for everything else, and a slow feed; it
records every request path.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from fastapi import Request
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.helpers import free_port, serving

ITEMS = 25
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def rss(name: str, base: str, items: int = ITEMS) -> bytes:
    entries = []
    for i in range(items):
        published = format_datetime(BASE_TIME + timedelta(hours=i))
        entries.append(
            f"<item><title>{name} item {i}</title><link>{base}/articles/{name}/{i}</link>"
            f"<guid>{name}-{i}</guid><pubDate>{published}</pubDate>"
            f"<description>Body {i} of {name}</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Feed {name}</title><link>{base}/site/{name}/</link>"
        f"<description>About {name}</description>{''.join(entries)}</channel></rss>"
    ).encode()


def page(name: str | None) -> bytes:
    """A site's page announcing the feed `name` (each of `a+b`'s feeds, in order)."""
    link = "".join(
        f'<link rel="alternate" type="application/rss+xml" title="{one}" href="/feeds/{one}.xml">'
        for one in (name.split("+") if name else [])
    )
    return (
        f"<!doctype html><html><head><title>Site</title>{link}</head>"
        f"<body><p>Hello</p></body></html>"
    ).encode()


class FeedOrigin:
    """Feeds and pages on 127.0.0.1:<port>, every request recorded."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[str] = []
        self.slow_s = 2.0  # under the tests' read timeout (3 s), unless ?s= says longer
        routes = [
            Route("/feeds/{name}.xml", self._feed),
            Route("/slow/{name}.xml", self._slow),
            Route("/bad/{name}.xml", self._bad),
            Route("/site/{name}/", self._site),
            Route("/plain.html", self._plain),
            Route("/{rest:path}", self._missing),
        ]
        self.app = Starlette(routes=routes)
        self._serving = contextlib.AsyncExitStack()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def seen(self, path: str) -> int:
        return sum(1 for p in self.requests if p == path)

    async def _feed(self, request: Request) -> Response:
        self.requests.append(request.url.path)
        items = int(request.query_params.get("items", ITEMS))
        return Response(
            rss(request.path_params["name"], self.base, items), media_type="application/rss+xml"
        )

    async def _bad(self, request: Request) -> Response:
        """A feed whose first item's title holds a reference to a lone surrogate."""
        self.requests.append(request.url.path)
        body = rss(request.path_params["name"], self.base).replace(b" item 0<", b" item &#xD800;0<")
        return Response(body, media_type="application/rss+xml")

    async def _slow(self, request: Request) -> Response:
        self.requests.append(request.url.path)
        await asyncio.sleep(float(request.query_params.get("s", self.slow_s)))
        return Response(
            rss(request.path_params["name"], self.base), media_type="application/rss+xml"
        )

    async def _site(self, request: Request) -> Response:
        self.requests.append(request.url.path)
        return Response(page(request.path_params["name"]), media_type="text/html")

    async def _plain(self, request: Request) -> Response:
        self.requests.append(request.url.path)
        return Response(page(None), media_type="text/html")

    async def _missing(self, request: Request) -> Response:
        self.requests.append(request.url.path)
        return PlainTextResponse("not here", status_code=404)

    async def start(self) -> FeedOrigin:
        await self._serving.enter_async_context(serving({self.port: self.app}))
        return self

    async def close(self) -> None:
        await self._serving.aclose()
