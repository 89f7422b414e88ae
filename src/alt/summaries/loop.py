"""The pre-processor's summary loop: one checked summary per extracted article.

Each round it
1. queues a `pending` summaries row for every extracted article (of a feed somebody reads)
   that has none for this prompt version;
2. unless the circuit breaker is open, claims due rows with a lease, fairly: every user whose
   feeds have waiting articles gets a turn in each round (newest first), and a user who had
   ALT_SUMMARY_DAILY_CAP summaries today gets no more turns until tomorrow (LLM-07);
3. for each claimed row prepares the article's text (visible text only, invisible characters
   removed, at most 24,000 characters), reuses the ready summary of an identical text when
   there is one (no call at all), and otherwise asks news-creator;
4. stores the summary with its engine, model, score, grounded/extractive marks, token counts
   and duration — or, on failure, decides: engine unavailable → the row waits (attempts kept,
   breaker told); timeout or bad answer → retried with backoff, `failed` after
   ALT_SUMMARY_MAX_ATTEMPTS; text that cannot be summarised → `failed` at once.

Everything it knows is in the database, so a restart or an outage loses nothing (REL-05); every
write is keyed by the row and its `pending` status, so a second run changes nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from alt.feeds.sanitize import plain_text
from alt.platform.background import in_background
from alt.platform.http_app import Lifecycle, ServiceContext
from alt.platform.logging import get_logger
from alt.summaries.breaker import CircuitBreaker
from alt.summaries.client import NewsCreatorClient, Summary, SummaryError
from alt.summaries.prompts import PROMPT_VERSION
from alt.summaries.settings import LLMSettings, SummarySettings
from alt.summaries.text import article_text, content_hash, fit

log = get_logger(__name__)

SUMMARIES = Counter("alt_summaries_total", "Summary jobs by outcome", ["outcome"])
BREAKER_OPEN = Gauge(
    "alt_summary_breaker_open",
    "1 while the summary circuit breaker is open",
    multiprocess_mode="livemax",
)

ENQUEUE_LIMIT = 1000

_ENQUEUE = """
INSERT INTO summaries (article_id, prompt_version, status)
SELECT ac.article_id, %(version)s, 'pending'
  FROM article_contents ac
  JOIN articles a ON a.id = ac.article_id
 WHERE ac.status = 'extracted'
   AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = a.feed_id)
   AND NOT EXISTS (SELECT 1 FROM summaries su
                    WHERE su.article_id = ac.article_id AND su.prompt_version = %(version)s)
 ORDER BY a.published_at DESC
 LIMIT %(limit)s
ON CONFLICT (article_id, prompt_version) DO NOTHING
"""

# Fair claiming: number each user's due articles newest first (their "turns"), drop the turns
# beyond the user's remaining quota for today, and take the lowest turns of all users first.
_CLAIM = """
WITH due AS (
    SELECT su.id, su.article_id, a.feed_id, a.published_at
      FROM summaries su
      JOIN articles a ON a.id = su.article_id
     WHERE su.prompt_version = %(version)s AND su.status = 'pending'
       AND su.next_attempt_at <= now()
       AND (su.claimed_until IS NULL OR su.claimed_until < now())
     ORDER BY su.next_attempt_at
     LIMIT 5000
), turns AS (
    SELECT due.id, sub.user_id,
           row_number() OVER (PARTITION BY sub.user_id
                              ORDER BY due.published_at DESC, due.id DESC) AS turn
      FROM due JOIN subscriptions sub ON sub.feed_id = due.feed_id
), allowed AS (
    SELECT DISTINCT ON (t.id) t.id, t.user_id, t.turn
      FROM turns t
      LEFT JOIN summary_quota q
             ON q.user_id = t.user_id AND q.day = (now() AT TIME ZONE 'UTC')::date
     WHERE coalesce(q.used, 0) + t.turn <= %(cap)s
     ORDER BY t.id, t.turn
), chosen AS (
    SELECT id, user_id FROM allowed ORDER BY turn, random() LIMIT %(limit)s
)
UPDATE summaries su
   SET claimed_until = now() + make_interval(secs => %(lease)s), requested_for = chosen.user_id
  FROM chosen
 WHERE su.id = chosen.id AND su.status = 'pending'
   AND (su.claimed_until IS NULL OR su.claimed_until < now())
RETURNING su.id, su.article_id, su.attempts, su.requested_for
"""

_ARTICLE = """
SELECT a.title, a.content_html, a.language, ac.text
  FROM articles a JOIN article_contents ac ON ac.article_id = a.id
 WHERE a.id = %(article_id)s
"""

_REUSE = """
SELECT summary, language, engine, model, score, grounded, extractive
  FROM summaries
 WHERE content_hash = %(hash)s AND prompt_version = %(version)s AND status = 'ready'
   AND id <> %(id)s AND (%(language)s::text IS NULL OR language = %(language)s)
 LIMIT 1
"""

_READY = """
UPDATE summaries
   SET status = 'ready', summary = %(summary)s, language = %(language)s, engine = %(engine)s,
       model = %(model)s, score = %(score)s, grounded = %(grounded)s,
       extractive = %(extractive)s, content_hash = %(hash)s, prompt_tokens = %(prompt_tokens)s,
       completion_tokens = %(completion_tokens)s, duration_ms = %(duration_ms)s,
       attempts = attempts + %(attempted)s, error = NULL, claimed_until = NULL,
       requested_for = %(requested_for)s
 WHERE id = %(id)s AND status = 'pending'
"""

_CHARGE = """
INSERT INTO summary_quota (user_id, day, used)
VALUES (%(user_id)s, (now() AT TIME ZONE 'UTC')::date, 1)
ON CONFLICT (user_id, day) DO UPDATE SET used = summary_quota.used + 1
"""

_RETRY = """
UPDATE summaries
   SET attempts = attempts + %(attempted)s, error = %(error)s, claimed_until = NULL,
       next_attempt_at = now() + make_interval(secs => %(wait)s)
 WHERE id = %(id)s AND status = 'pending'
"""

_FAIL = """
UPDATE summaries
   SET status = 'failed', attempts = attempts + %(attempted)s, error = %(error)s,
       claimed_until = NULL, content_hash = %(hash)s
 WHERE id = %(id)s AND status = 'pending'
"""


@dataclass(frozen=True)
class Claim:
    id: int
    article_id: int
    attempts: int
    requested_for: Any


class SummaryLoop:
    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        client: NewsCreatorClient,
        settings: SummarySettings,
        llm: LLMSettings,
        prompt_version: str = PROMPT_VERSION,
    ) -> None:
        self.pool = pool
        self.client = client
        self.settings = settings
        self.max_input_chars = llm.max_input_chars
        self.version = prompt_version
        self.breaker = CircuitBreaker(
            self.settings.breaker_failures,
            self.settings.breaker_cooldown_s,
            self.settings.breaker_cooldown_max_s,
        )
        self.calls = 0

    async def run(self) -> None:
        """Rounds until cancelled; idle rounds wait ALT_SUMMARY_IDLE_POLL_S."""
        delay = 1.0
        while True:
            try:
                done = await self.run_once()
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("summary_round_failed")
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)
                continue
            if not done:
                wait = self.breaker.wait_s() or self.settings.idle_poll_s
                await asyncio.sleep(min(wait, self.settings.idle_poll_s))

    async def enqueue(self) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_ENQUEUE, {"version": self.version, "limit": ENQUEUE_LIMIT})
            return cur.rowcount

    async def claim(self, limit: int) -> list[Claim]:
        async with self.pool.connection() as conn:
            cur = await conn.cursor(row_factory=dict_row).execute(
                _CLAIM,
                {
                    "version": self.version,
                    "cap": self.settings.daily_cap,
                    "limit": limit,
                    "lease": self.settings.lease_s,
                },
            )
            return [Claim(**row) for row in await cur.fetchall()]

    async def run_once(self) -> int:
        """One round; returns how many articles it worked on."""
        await self.enqueue()
        BREAKER_OPEN.set(1 if self.breaker.state == "open" else 0)
        if not self.breaker.allow():
            return 0
        probing = self.breaker.state == "half_open"
        claims = await self.claim(1 if probing else self.settings.concurrency)
        if not claims:
            if probing:
                self.breaker.success()  # nothing to probe with; try again next round
            return 0
        await asyncio.gather(*(self.process(claim) for claim in claims))
        return len(claims)

    async def process(self, claim: Claim) -> None:
        async with self.pool.connection() as conn:
            cur = await conn.cursor(row_factory=dict_row).execute(
                _ARTICLE, {"article_id": claim.article_id}
            )
            article = await cur.fetchone()
        if article is None:
            return
        source = article["text"] or plain_text(article["content_html"] or "")
        text = fit(article_text(source), self.max_input_chars)
        digest = content_hash(text)
        language = None if self.settings.language == "auto" else self.settings.language
        if len(text) < self.settings.min_chars:
            await self._write(_FAIL, id=claim.id, attempted=0, error="too_short", hash=digest)
            SUMMARIES.labels("too_short").inc()
            return
        reused = await self._reuse(claim, digest, language)
        if reused:
            SUMMARIES.labels("reused").inc()
            return
        self.calls += 1
        try:
            summary = await self.client.summarize(
                claim.article_id, text, language, article["title"] or None
            )
        except SummaryError as exc:
            await self._failed(claim, exc, digest)
            return
        self.breaker.success()
        await self._ready(claim, summary, digest)
        SUMMARIES.labels("extractive" if summary.extractive else "ready").inc()

    async def _reuse(self, claim: Claim, digest: bytes, language: str | None) -> bool:
        """Copy the ready summary of an identical text (another feed's copy of the article)."""
        async with self.pool.connection() as conn:
            cur = await conn.cursor(row_factory=dict_row).execute(
                _REUSE,
                {"hash": digest, "version": self.version, "id": claim.id, "language": language},
            )
            row = await cur.fetchone()
            if row is None:
                return False
            await conn.execute(
                _READY,
                {
                    **row,
                    "hash": digest,
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "duration_ms": 0,
                    "attempted": 0,
                    "requested_for": None,
                    "id": claim.id,
                },
            )
        log.info("summary_reused", article_id=claim.article_id)
        return True

    async def _ready(self, claim: Claim, summary: Summary, digest: bytes) -> None:
        charged = not summary.cached and claim.requested_for is not None
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                _READY,
                {
                    "summary": summary.summary,
                    "language": summary.language,
                    "engine": summary.engine,
                    "model": summary.model,
                    "score": summary.score,
                    "grounded": summary.grounded,
                    "extractive": summary.extractive,
                    "hash": digest,
                    "prompt_tokens": summary.prompt_tokens,
                    "completion_tokens": summary.completion_tokens,
                    "duration_ms": summary.duration_ms,
                    "attempted": 1,
                    "requested_for": claim.requested_for if charged else None,
                    "id": claim.id,
                },
            )
            if cur.rowcount and charged:
                await conn.execute(_CHARGE, {"user_id": claim.requested_for})
        log.info(
            "summary_stored",
            article_id=claim.article_id,
            engine=summary.engine,
            score=summary.score,
            grounded=summary.grounded,
            extractive=summary.extractive,
            cached=summary.cached,
        )

    async def _failed(self, claim: Claim, exc: SummaryError, digest: bytes) -> None:
        error = f"{exc.kind}: {exc.message}"[:2000]
        if exc.kind == "rejected":
            self.breaker.success()
            await self._write(_FAIL, id=claim.id, attempted=1, error=error, hash=digest)
            SUMMARIES.labels("rejected").inc()
            return
        self.breaker.failure(exc.retry_after_s)
        if exc.kind == "unavailable":
            # Not the article's fault: it waits without using up an attempt.
            wait = max(
                exc.retry_after_s or 0.0, self.breaker.wait_s(), self.settings.backoff_first_s
            )
            await self._write(_RETRY, id=claim.id, attempted=0, error=error, wait=wait)
            SUMMARIES.labels("waiting").inc()
            log.warning(
                "summary_engine_unavailable",
                article_id=claim.article_id,
                error=exc.message,
                retry_in_s=round(wait, 1),
            )
            return
        attempts = claim.attempts + 1
        if attempts >= self.settings.max_attempts:
            await self._write(_FAIL, id=claim.id, attempted=1, error=error, hash=digest)
            SUMMARIES.labels("failed").inc()
            log.warning(
                "summary_failed", article_id=claim.article_id, attempts=attempts, error=exc.message
            )
            return
        wait = self.backoff_s(attempts, exc.retry_after_s)
        await self._write(_RETRY, id=claim.id, attempted=1, error=error, wait=wait)
        SUMMARIES.labels("retrying").inc()
        log.warning(
            "summary_retrying",
            article_id=claim.article_id,
            attempts=attempts,
            kind=exc.kind,
            error=exc.message,
            retry_in_s=round(wait, 1),
        )

    def backoff_s(self, attempts: int, retry_after_s: float | None = None) -> float:
        """first x 2^(attempts-1), capped, stretched by up to 25 % jitter; at least the
        engine's own Retry-After."""
        base = min(self.settings.backoff_cap_s, self.settings.backoff_first_s * 2 ** (attempts - 1))
        jittered = base * (1 + 0.25 * random.random())  # noqa: S311 - spreading load
        return float(max(jittered, retry_after_s or 0.0))

    async def _write(self, query: str, **values: Any) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(query, values)


def lifecycle(settings: SummarySettings, llm: LLMSettings) -> Lifecycle:
    """The summary loop as a part of a service (the pre-processor): started with it, stopped
    with it. Needs the service's database pool and its client of news-creator."""

    @contextlib.asynccontextmanager
    async def run(ctx: ServiceContext) -> AsyncIterator[None]:
        if not settings.enabled:
            yield
            return
        assert ctx.pool is not None, "the summary loop needs the service's database"
        client = NewsCreatorClient(ctx.services, settings.request_timeout_s)
        loop = SummaryLoop(ctx.pool, client, settings, llm)
        async with in_background("summaries", loop.run):
            yield

    return run
