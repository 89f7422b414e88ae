"""The extraction loop: claims articles waiting for their full text, fetches their pages through
its own egress client (so extraction has its own per-host limit, apart from feed fetching),
extracts (`article_text.py`) and stores. An article whose page fails keeps its feed content;
transient failures are retried with backoff, three attempts in all."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg.types.json import Jsonb

from alt.platform.background import in_rounds
from alt.platform.db import Pool
from alt.platform.egress import EgressClient, FetchError
from alt.platform.logging import get_logger
from alt.preprocessor.article_text import NotExtractable, extract_article

log = get_logger(__name__)

MAX_ATTEMPTS = 3
RETRY_BASE_S = 300
LEASE_S = 300
BATCH = 50
CONCURRENCY = 8
IDLE_S = 10.0

_CLAIM = """
WITH due AS (
    SELECT c.article_id FROM article_contents c
     WHERE c.status = 'pending' AND c.next_attempt_at <= now()
       AND (c.claimed_until IS NULL OR c.claimed_until < now())
     ORDER BY c.next_attempt_at
     LIMIT %(limit)s
       FOR UPDATE OF c SKIP LOCKED
)
UPDATE article_contents c
   SET claimed_until = now() + make_interval(secs => %(lease_s)s), attempts = c.attempts + 1
  FROM due JOIN articles a ON a.id = due.article_id
 WHERE c.article_id = due.article_id
RETURNING c.article_id, a.url, c.attempts
"""

_DONE = """
UPDATE article_contents SET status = 'extracted', text = %(text)s, html = %(html)s,
       metadata = %(metadata)s, error = NULL, extracted_at = now(), claimed_until = NULL
 WHERE article_id = %(article_id)s
"""

_GAVE_UP = """
UPDATE article_contents SET status = %(status)s, error = left(%(error)s, 2000),
       claimed_until = NULL
 WHERE article_id = %(article_id)s
"""

_LATER = """
UPDATE article_contents SET error = left(%(error)s, 2000), claimed_until = NULL,
       next_attempt_at = %(at)s
 WHERE article_id = %(article_id)s
"""


@dataclass(frozen=True)
class Job:
    article_id: int
    url: str
    attempts: int


class ArticleExtractor:
    def __init__(self, pool: Pool, egress: EgressClient) -> None:
        self.pool = pool
        self.egress = egress
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Extract every article due now; return how many were handled."""
        done = 0
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(job: Job) -> None:
            async with slots:
                await self.extract(job)

        async with asyncio.TaskGroup() as group:
            while jobs := await self._claim():
                for job in jobs:
                    group.create_task(one(job))
                done += len(jobs)
                if len(jobs) < BATCH:
                    break
        return done

    async def _claim(self) -> list[Job]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(_CLAIM, {"limit": BATCH, "lease_s": LEASE_S})
            return [Job(**row) for row in await cursor.fetchall()]

    async def extract(self, job: Job) -> None:
        try:
            page = await self.egress.fetch(job.url, kind="page", accept="text/html")
            if "html" not in (page.content_type or "html"):
                raise NotExtractable(f"the page is {page.content_type}, not HTML")
            found = await asyncio.to_thread(extract_article, page.body, page.url)
        except FetchError as exc:
            await self._failed(job, str(exc), retriable=exc.retriable)
            return
        except NotExtractable as exc:
            await self._finish(
                _GAVE_UP, {"article_id": job.article_id, "status": "skipped", "error": str(exc)}
            )
            return
        await self._finish(
            _DONE,
            {
                "article_id": job.article_id,
                "text": found.text,
                "html": found.html,
                "metadata": Jsonb(found.metadata),
            },
        )

    async def _failed(self, job: Job, error: str, *, retriable: bool) -> None:
        if retriable and job.attempts < MAX_ATTEMPTS:
            at = datetime.now(UTC) + timedelta(seconds=RETRY_BASE_S * 2 ** (job.attempts - 1))
            await self._finish(_LATER, {"article_id": job.article_id, "error": error, "at": at})
        else:
            await self._finish(
                _GAVE_UP, {"article_id": job.article_id, "status": "failed", "error": error}
            )

    async def _finish(self, query: str, params: dict[str, object]) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(query.encode(), params)

    async def run_forever(self) -> None:
        async def idle_s() -> float:
            return IDLE_S

        await in_rounds("extraction", self.run_once, self._wake, idle_s)
