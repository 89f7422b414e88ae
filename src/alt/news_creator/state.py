"""news-creator's live parts: the engine, the summariser and the summary cache."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from alt.config import Settings
from alt.platform.http_app import ServiceContext
from alt.platform.logging import get_logger
from alt.summaries.embeddings import load_similarity
from alt.summaries.engines import Engine, ModelCard, choose_engine, make_engine
from alt.summaries.pipeline import Summarizer, SummaryResult, recipe_version
from alt.summaries.settings import LLMSettings
from alt.summaries.text import content_hash

log = get_logger(__name__)

_CACHE_GET = """
UPDATE summary_cache SET hits = hits + 1, last_used_at = now()
 WHERE content_hash = %(hash)s AND prompt_version = %(version)s AND language = %(language)s
RETURNING summary, engine, model, score, grounded, extractive, prompt_tokens,
          completion_tokens, duration_ms
"""
_CACHE_PUT = """
INSERT INTO summary_cache (content_hash, prompt_version, language, summary, engine, model,
                           score, grounded, extractive, prompt_tokens, completion_tokens,
                           duration_ms)
VALUES (%(hash)s, %(version)s, %(language)s, %(summary)s, %(engine)s, %(model)s, %(score)s,
        %(grounded)s, %(extractive)s, %(prompt_tokens)s, %(completion_tokens)s,
        %(duration_ms)s)
ON CONFLICT (content_hash, prompt_version, language) DO UPDATE SET
    summary = EXCLUDED.summary, engine = EXCLUDED.engine, model = EXCLUDED.model,
    score = EXCLUDED.score, grounded = EXCLUDED.grounded, extractive = EXCLUDED.extractive,
    prompt_tokens = EXCLUDED.prompt_tokens, completion_tokens = EXCLUDED.completion_tokens,
    duration_ms = EXCLUDED.duration_ms, last_used_at = now()
"""


class NewsCreator:
    def __init__(self, settings: Settings, llm: LLMSettings | None = None) -> None:
        """`llm` is `settings.llm` unless given (tests and benchmarks try several), checked
        against what is installed (ConfigError naming the setting): `self.llm` is what runs,
        `degraded` why it is not what was configured."""
        self.settings = settings
        self.llm, self.degraded = choose_engine(llm if llm is not None else settings.llm)
        self.similarity = load_similarity(self.llm)
        self._engine: Engine | None = None
        self._summarizer: Summarizer | None = None
        self.pool: AsyncConnectionPool[AsyncConnection[dict[str, Any]]] | None = None
        self._inflight: dict[tuple[bytes, str], asyncio.Future[SummaryResult]] = {}
        self.model_calls = 0
        self.cache_hits = 0

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("news-creator is not started")
        return self._engine

    @property
    def summarizer(self) -> Summarizer:
        if self._summarizer is None:
            raise RuntimeError("news-creator is not started")
        return self._summarizer

    @contextlib.asynccontextmanager
    async def lifecycle(self, ctx: ServiceContext) -> AsyncIterator[None]:
        def service_headers() -> dict[str, str]:
            return {"X-Service-Token": ctx.tokens.issue("news-creator")}

        engine = make_engine(self.llm, service_headers)
        await engine.start()
        self._engine = engine
        self._summarizer = Summarizer(engine, self.llm, self.similarity)
        if self.degraded:
            log.warning("news_creator_degraded", engine=engine.kind, reason=self.degraded)
        log.info("news_creator_engine", **self.health())
        try:
            if self.llm.cache:
                self.pool = ctx.pool  # the summary cache, as alt_news_creator
            yield
        finally:
            self.pool = None
            await engine.close()
            self._engine = None

    def health(self) -> dict[str, Any]:
        """What /v1/health says of the engine: which one runs and, when degraded, why."""
        return {
            "engine": self.llm.engine,
            "model": self._engine.model if self._engine else None,
            "grounding": "embedding" if self.similarity else "lexical",
            "degraded": self.degraded,
        }

    async def cards(self) -> list[ModelCard]:
        cards = await self.engine.cards()
        judge = self.llm.judge_model
        if judge and all(card.name != judge for card in cards):
            cards.append(ModelCard(name=judge))
        return cards

    def version(self) -> str:
        return recipe_version(self.llm, self.engine.model)

    async def summarize(
        self, content: str, language: str | None, title: str | None
    ) -> tuple[SummaryResult, bool]:
        """(result, cached). Identical text costs one model call: the cache answers the
        later requests, and concurrent ones wait for the first."""
        text = self.summarizer.prepare(content)
        key = (content_hash(text), language or "auto")
        cached = await self._cache_get(*key)
        if cached is not None:
            self.cache_hits += 1
            return cached, True
        pending = self._inflight.get(key)
        if pending is not None:
            self.cache_hits += 1
            return await asyncio.shield(pending), True
        future: asyncio.Future[SummaryResult] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            self.model_calls += 1
            result = await self.summarizer.summarize(text, language, title)
            future.set_result(result)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody else has to
            raise
        finally:
            del self._inflight[key]
        await self._cache_put(*key, result)
        return result, False

    async def _cache_get(self, digest: bytes, language: str) -> SummaryResult | None:
        if self.pool is None:
            return None
        try:
            async with self.pool.connection(timeout=2.0) as conn:
                cur = await conn.cursor(row_factory=dict_row).execute(
                    _CACHE_GET, {"hash": digest, "version": self.version(), "language": language}
                )
                row = await cur.fetchone()
        except Exception as exc:  # the cache is an optimisation: never fail a request on it
            log.warning("summary_cache_unavailable", error=type(exc).__name__)
            return None
        if row is None:
            return None
        return SummaryResult(
            summary=row["summary"],
            engine=row["engine"],
            model=row["model"] or "",
            language=language,
            score=row["score"],
            grounded=bool(row["grounded"]),
            extractive=row["extractive"],
            prompt_tokens=row["prompt_tokens"] or 0,
            completion_tokens=row["completion_tokens"] or 0,
            duration_ms=row["duration_ms"] or 0,
        )

    async def _cache_put(self, digest: bytes, language: str, result: SummaryResult) -> None:
        if self.pool is None:
            return
        values = asdict(result)
        values.update(hash=digest, version=self.version(), language=language)
        try:
            async with self.pool.connection(timeout=2.0) as conn:
                await conn.execute(_CACHE_PUT, values)
        except Exception as exc:
            log.warning("summary_cache_unavailable", error=type(exc).__name__)
