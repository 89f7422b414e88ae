"""The baseline: the fetcher one writes in an afternoon. httpx with 32 requests in flight,
ETags kept in memory, feedparser to parse, items stored with INSERT … ON CONFLICT DO NOTHING."""

from __future__ import annotations

import asyncio

import feedparser
import httpx
import psycopg

CONCURRENCY = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS naive_items (
    feed_url text NOT NULL, guid text NOT NULL, title text, link text, content text,
    published text, PRIMARY KEY (feed_url, guid))
"""
_INSERT = """
INSERT INTO naive_items (feed_url, guid, title, link, content, published)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
"""


class NaiveFetcher:
    def __init__(self, conninfo: str, urls: list[str]) -> None:
        self.conninfo = conninfo
        self.urls = urls
        self.etags: dict[str, str] = {}

    async def run_round(self) -> dict[str, int]:
        counts = {"ok": 0, "not_modified": 0, "failed": 0, "items": 0}
        slots = asyncio.Semaphore(CONCURRENCY)
        lock = asyncio.Lock()
        limits = httpx.Limits(max_connections=CONCURRENCY)
        async with (
            await psycopg.AsyncConnection.connect(self.conninfo) as conn,
            httpx.AsyncClient(timeout=30, follow_redirects=True, limits=limits) as http,
        ):
            await conn.execute(_SCHEMA)
            await conn.commit()

            async def one(url: str) -> None:
                async with slots:
                    await self._fetch(http, conn, lock, url, counts)

            await asyncio.gather(*(one(url) for url in self.urls))
        return counts

    async def _fetch(
        self,
        http: httpx.AsyncClient,
        conn: psycopg.AsyncConnection,
        lock: asyncio.Lock,
        url: str,
        counts: dict[str, int],
    ) -> None:
        headers = {"If-None-Match": self.etags[url]} if url in self.etags else {}
        try:
            response = await http.get(url, headers=headers)
        except httpx.HTTPError:
            counts["failed"] += 1
            return
        if response.status_code == 304:
            counts["not_modified"] += 1
            return
        parsed = feedparser.parse(response.content) if response.status_code == 200 else None
        if parsed is None or not parsed.entries:
            counts["failed"] += 1
            return
        rows = [
            (
                url,
                e.get("id") or e.get("link"),
                e.get("title"),
                e.get("link"),
                e.get("summary"),
                e.get("published"),
            )
            for e in parsed.entries
        ]
        async with lock:  # one connection: one writer at a time
            async with conn.cursor() as cur:
                await cur.executemany(_INSERT, rows)
            await conn.commit()
        if etag := response.headers.get("etag"):
            self.etags[url] = etag
        counts["ok"] += 1
        counts["items"] += len(rows)
