"""A small news site on loopback for the browser journeys: a home page that names two feeds,
the feeds, and article pages with paragraphs and an image (for full text, summaries and the
image proxy)."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.helpers import free_port


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG of one colour (the image proxy passes only raster images it can check)."""
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + checksum

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


PICTURE = png(320, 180, (40, 100, 170))
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TOPICS = {
    "harbour": "The harbour board approved a new tide gauge for the north pier",
    "library": "The city library opens a reading room for night-shift workers",
    "transit": "Council debates a transit levy for the eastern suburbs",
    "garden": "Volunteers plant two hundred trees along the river path",
    "bridge": "Engineers finish the inspection of the old rail bridge",
}
FEEDS = {
    "news": ("Harbour Town News", list(TOPICS)[:3]),
    "weekly": ("Harbour Weekly", list(TOPICS)[2:]),
}


def article_html(slug: str, base: str) -> str:
    title = TOPICS[slug]
    paragraphs = "".join(
        f"<p>{title}. Reporters spoke with residents, officials and experts about what the "
        f"decision means for the town in the coming year; paragraph {n} gives the details, "
        "the costs and the timetable that the board published on Monday.</p>"
        for n in range(1, 6)
    )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title></head>"
        f"<body><header><nav><a href='/'>Home</a></nav></header><main><article>"
        f"<h1>{title}</h1><p class=byline>By Ada Reporter</p>"
        f"<img src='{base}/images/{slug}.png' alt='Photo for {slug}' width=640 height=360>"
        f"{paragraphs}</article></main><footer>Harbour Town</footer></body></html>"
    )


def feed_xml(name: str, base: str) -> str:
    title, slugs = FEEDS[name]
    items = "".join(
        f"<item><title>{TOPICS[slug]}</title><link>{base}/articles/{slug}.html</link>"
        f"<guid>{slug}</guid><pubDate>{format_datetime(NOW - timedelta(hours=i))}</pubDate>"
        f"<author>ada@example.org (Ada Reporter)</author>"
        f"<description>{TOPICS[slug]}: the short version.</description></item>"
        for i, slug in enumerate(slugs)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{base}/</link><description>{title}</description>{items}</channel></rss>"
    )


class NewsSite:
    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.app = Starlette(
            routes=[
                Route("/", self._home),
                Route("/feeds/{name}.xml", self._feed),
                Route("/articles/{slug}.html", self._article),
                Route("/images/{slug}.png", self._image),
            ]
        )

    def feed_url(self, name: str) -> str:
        return f"{self.base}/feeds/{name}.xml"

    async def _home(self, request: Request) -> Response:
        links = "".join(
            f"<link rel=alternate type=application/rss+xml title='{title}' "
            f"href='{self.feed_url(name)}'>"
            for name, (title, _) in FEEDS.items()
        )
        body = f"<!doctype html><html><head><title>Harbour Town</title>{links}</head><body></body>"
        return Response(body, media_type="text/html")

    async def _feed(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in FEEDS:
            return Response("not here", status_code=404)
        return Response(feed_xml(name, self.base), media_type="application/rss+xml")

    async def _article(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        if slug not in TOPICS:
            return Response("not here", status_code=404)
        return Response(article_html(slug, self.base), media_type="text/html")

    async def _image(self, request: Request) -> Response:
        return Response(PICTURE, media_type="image/png")
