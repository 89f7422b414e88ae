"""The feed fetcher: claims due feeds, fetches them through the egress client, parses and stores.

Feeds are claimed in batches with `FOR UPDATE SKIP LOCKED` and a lease (`claimed_until`), so
several pre-processors share the work and a crashed one only delays its feeds by the lease.
Concurrency is bounded here (feeds in flight) and inside the egress client (per host, global),
so a slow or hostile feed holds one slot and never the others. New subscriptions and "refresh
now" move `next_check_at` and send NOTIFY on FEEDS_DUE_CHANNEL, which wakes the loop at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from alt.feeds.parse import FeedParseError, ParsedFeed
from alt.platform.background import in_background, in_rounds
from alt.platform.db import Pool
from alt.platform.egress import EgressClient, FetchError, FetchResult
from alt.platform.logging import get_logger
from alt.preprocessor import schedule, store
from alt.preprocessor.parsing import FeedParsers
from alt.preprocessor.settings import IngestSettings
from alt.preprocessor.writer import FeedWriter

log = get_logger(__name__)

FEEDS_DUE_CHANNEL = "alt_feeds_due"

_CLAIM = """
WITH due AS (
    SELECT f.id FROM feeds f
     WHERE f.status = 'active' AND f.next_check_at <= now()
       AND (f.claimed_until IS NULL OR f.claimed_until < now())
       AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.id)
     ORDER BY f.next_check_at
     LIMIT %(limit)s
       FOR UPDATE OF f SKIP LOCKED
)
UPDATE feeds f SET claimed_until = now() + make_interval(secs => %(lease_s)s)
  FROM due WHERE f.id = due.id
RETURNING f.id, f.url, f.etag, f.last_modified, f.error_count, f.last_fetch_ms
"""

_NEXT_DUE = """
SELECT min(next_check_at) AS next FROM feeds
 WHERE status = 'active' AND (claimed_until IS NULL OR claimed_until < now())
"""


class ByteBudget:
    """A semaphore counted in bytes, first come first served. A request larger than the whole
    budget waits until all of it is free, and takes it all.

    Waiters queue in order and only the first is checked when bytes come back: thousands of
    bodies may wait at once, and waking them all to re-check (a Condition) costs each return
    a pass over the whole queue."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.free = limit
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def take(self, size: int) -> int:
        """Wait for `size` bytes; return what was taken (give it back with `give`)."""
        size = min(size, self.limit)
        if not self._waiting and self.free >= size:
            self.free -= size
            return size
        turn = (size, asyncio.get_running_loop().create_future())
        self._waiting.append(turn)
        try:
            await turn[1]
        except asyncio.CancelledError:
            if turn[1].done() and not turn[1].cancelled():
                self.give(size)  # granted, then cancelled before it could use them
            elif turn in self._waiting:
                self._waiting.remove(turn)
                self._grant()  # those behind it may fit now
            raise
        return size

    def give(self, size: int) -> None:
        self.free += size
        self._grant()

    def _grant(self) -> None:
        while self._waiting and self._waiting[0][0] <= self.free:
            size, turn = self._waiting.popleft()
            if not turn.done():
                self.free -= size
                turn.set_result(None)


@dataclass(frozen=True)
class Claim:
    id: int
    url: str
    etag: str | None
    last_modified: str | None
    error_count: int
    last_fetch_ms: int | None = None


@dataclass(frozen=True)
class Outcome:
    feed_id: int
    inserted: int = 0
    updated: int = 0
    not_modified: bool = False
    error: str | None = None


class FeedFetcher:
    def __init__(
        self,
        pool: Pool,
        egress: EgressClient,
        policy: IngestSettings,
        listen_conninfo: str,
        on_new_articles: Callable[[], None] | None = None,
        parsers: FeedParsers | None = None,
    ) -> None:
        self.pool = pool
        self.parsers = parsers or FeedParsers(workers=0)
        self.writer = FeedWriter(pool)
        self._in_flight = asyncio.Semaphore(policy.concurrency)
        self._bodies = ByteBudget(policy.body_budget_mib * 1024 * 1024)
        self.on_new_articles = on_new_articles
        self.listen_conninfo = listen_conninfo
        self.egress = egress
        self.policy = policy
        self._wake = asyncio.Event()

    # -- one round -------------------------------------------------------------------------

    async def claim(self, limit: int) -> list[Claim]:
        async with self.pool.connection() as conn:
            rows = await conn.execute(_CLAIM, {"limit": limit, "lease_s": self.policy.lease_s})
            return [Claim(**row) for row in await rows.fetchall()]

    async def run_once(self) -> list[Outcome]:
        """Fetch every feed due now; return what happened to each."""
        claims: list[Claim] = []
        while batch := await self.claim(self.policy.claim_batch):
            claims += batch
            if len(batch) < self.policy.claim_batch:
                break
        # Slowest first: the round then lasts about as long as its slowest feed, instead of
        # that plus whatever was queued ahead of it (longest-processing-time-first).
        claims.sort(key=lambda claim: claim.last_fetch_ms or 0, reverse=True)
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._fetch_contained(claim)) for claim in claims]
        return [task.result() for task in tasks]

    async def _fetch_contained(self, claim: Claim) -> Outcome:
        """`fetch_feed`, where whatever goes wrong with this feed is this feed's failure: it is
        recorded, released and scheduled like any failure, and the round goes on."""
        try:
            return await self.fetch_feed(claim)
        except psycopg.OperationalError:
            raise  # the database is away: the round fails, the leases run out
        except Exception as exc:
            log.exception("feed_fetch_crashed", feed_id=claim.id, url=claim.url)
            return await self._failed(claim, f"internal error: {type(exc).__name__}", None, None)

    async def fetch_feed(self, claim: Claim) -> Outcome:
        # A fetch holds an in-flight slot only until its body is in memory: parsing and storing
        # wait outside, so a backlog of CPU work never idles the network. The bodies waiting
        # are bounded in bytes instead.
        failure: FetchError | None = None
        async with self._in_flight:
            try:
                result = await self.egress.fetch(
                    claim.url, kind="feed", etag=claim.etag, last_modified=claim.last_modified
                )
            except FetchError as exc:
                failure = exc
            else:
                held = await self._bodies.take(len(result.body))
        if failure is not None:
            return await self._failed(
                claim,
                str(failure),
                failure.status,
                failure.retry_after_s,
                counts=failure.status != 429,
            )
        try:
            return await self._process(claim, result)
        finally:
            self._bodies.give(held)

    async def _process(self, claim: Claim, result: FetchResult) -> Outcome:
        now = datetime.now(UTC)
        if result.not_modified:
            return await self._not_modified(claim, result, now)
        try:
            feed = await self.parsers.parse(
                result.body, url=result.url, content_type=result.content_type, fetched_at=now
            )
        except FeedParseError as exc:
            return await self._failed(claim, f"parse error: {exc}", result.status, None)
        return await self._store(claim, result, feed, now)

    async def _store(
        self, claim: Claim, result: FetchResult, feed: ParsedFeed, now: datetime
    ) -> Outcome:
        fetched = store.Fetched.of(claim.id, feed, result, now, self.policy)
        inserted, updated = await self.writer.write(fetched)
        if inserted and self.on_new_articles is not None:
            self.on_new_articles()
        return Outcome(claim.id, inserted=inserted, updated=updated)

    async def _not_modified(self, claim: Claim, result: FetchResult, now: datetime) -> Outcome:
        next_check = schedule.after_success(
            now, self.policy, ttl_s=None, max_age_s=schedule.cache_max_age_s(result.headers)
        )
        fetch_ms = round(result.elapsed_s * 1000)
        await self.writer.write(store.NotModified(claim.id, now, next_check, fetch_ms))
        return Outcome(claim.id, not_modified=True)

    async def _failed(
        self,
        claim: Claim,
        error: str,
        status: int | None,
        retry_after_s: float | None,
        counts: bool = True,
    ) -> Outcome:
        now = datetime.now(UTC)
        errors = claim.error_count + (1 if counts else 0)
        next_check = schedule.after_failure(
            now, self.policy, error_count=max(errors, 1), retry_after_s=retry_after_s
        )
        await self.writer.write(store.Failed(claim.id, error, status, counts, now, next_check))
        log.info("feed_failed", feed_id=claim.id, error=error, errors=errors)
        return Outcome(claim.id, error=error)

    # -- forever ---------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        async with in_background("feed listener", self._listen):
            await in_rounds("fetch", self.run_once, self._wake, self._idle_s)

    async def _idle_s(self) -> float:
        try:
            async with self.pool.connection() as conn:
                row = await (await conn.execute(_NEXT_DUE)).fetchone()
        except psycopg.OperationalError:
            return self.policy.idle_poll_s
        if row is None or row["next"] is None:
            return self.policy.idle_poll_s
        until_due: float = (row["next"] - datetime.now(UTC)).total_seconds()
        return min(max(until_due, 0.05), self.policy.idle_poll_s)

    async def _listen(self) -> None:
        """LISTEN for due feeds on a connection of its own; reconnect after an outage."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.listen_conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {FEEDS_DUE_CHANNEL}")
                    async for _ in conn.notifies():
                        self.wake()
            except (psycopg.OperationalError, OSError):
                await asyncio.sleep(self.policy.idle_poll_s / 10)
