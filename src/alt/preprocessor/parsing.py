"""Feed parsing off the fetcher's event loop, in worker processes.

Parsing and sanitising are most of the CPU a fetch round costs, and Python runs them one at a
time per process; in worker processes they use every core while the fetcher's loop keeps
fetching and storing. A worker is also a wall: a feed that crashes or exhausts the parser
(a native library fault, the kernel's OOM killer) takes down a worker, never the fetcher. The
feeds being parsed then fail like any other fetch error, with backoff, and a fresh pool
serves the next ones.

With no workers configured, feeds are parsed in a thread of the fetcher's own process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from functools import partial

from alt.feeds.parse import FeedParseError, ParsedFeed, parse_feed
from alt.platform.logging import get_logger

log = get_logger(__name__)


class FeedParsers:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    async def parse(
        self, body: bytes, *, url: str, content_type: str | None, fetched_at: datetime
    ) -> ParsedFeed:
        """The parsed feed; FeedParseError when it is not one or when a worker died on it."""
        job = partial(parse_feed, body, url=url, content_type=content_type, fetched_at=fetched_at)
        if self.workers == 0:
            return await asyncio.to_thread(job)
        pool = self._running_pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, job)
        except BrokenProcessPool:
            self._replace(pool)
            raise FeedParseError("the parser stopped while reading this feed") from None

    async def start(self) -> None:
        """Start the workers now (each imports the parser once) rather than on the first feed."""
        if self.workers == 0:
            return
        pool = self._running_pool()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(pool, _ready) for _ in range(self.workers)))

    def _running_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: a fork would copy the fetcher's threads, sockets and locks mid-use.
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self._pool is broken:
            log.warning("feed_parser_restarted", workers=self.workers)
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _ready() -> None:
    """A job for a fresh worker: unpickling it imported the parser."""
