"""The pre-processor's summary loop against a real PostgreSQL (acting as alt_pre_processor),
news-creator on loopback and the adversarial fake LLM (or the real local model)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from alt.config import Settings
from alt.platform.db import make_pool
from alt.platform.migrate import migrate
from alt.platform.service_client import ServiceClient
from alt.platform.service_tokens import KeyRing, ServiceTokens
from alt.services import SERVICES, Database
from alt.summaries.client import NewsCreatorClient
from alt.summaries.loop import SummaryLoop
from alt.summaries.settings import LLMSettings, SummarySettings
from tests.helpers import free_port, with_overrides
from tests.summaries.support import FakeLLM, local_model, news_creator

TEXT = (
    "At low tide the rocky shelves north of the bay expose hundreds of tide pools. Each pool "
    "is a small ecosystem: sea anemones close when the water drains, ochre sea stars cling to "
    "mussel beds, and hermit crabs trade shells as they grow. Biologists count species along "
    "fixed transects every spring. Visitors should check the tide table before walking out."
)


@dataclass
class World:
    settings: Settings
    loop: Callable[..., SummaryLoop]
    db: psycopg.AsyncConnection[dict[str, Any]]
    services: ServiceClient

    async def feed(self, *users: uuid.UUID) -> int:
        row = await (
            await self.db.execute(
                "INSERT INTO feeds (url) VALUES (%s) RETURNING id",
                (f"https://news.example/{uuid.uuid4().hex}.rss",),
            )
        ).fetchone()
        assert row is not None
        for user in users:
            await self.db.execute(
                "INSERT INTO subscriptions (user_id, feed_id) VALUES (%s, %s)", (user, row["id"])
            )
        return int(row["id"])

    async def article(self, feed_id: int, text: str = TEXT, minutes_ago: int = 0) -> int:
        row = await (
            await self.db.execute(
                "INSERT INTO articles (feed_id, entry_hash, title, published_at) "
                "VALUES (%s, %s, %s, now() - make_interval(mins => %s)) RETURNING id",
                (feed_id, hashlib.sha256(uuid.uuid4().bytes).digest(), "Tide pools", minutes_ago),
            )
        ).fetchone()
        assert row is not None
        await self.db.execute(
            "INSERT INTO article_contents (article_id, status, text, extracted_at) "
            "VALUES (%s, 'extracted', %s, now())",
            (row["id"], text),
        )
        return int(row["id"])

    async def rows(self) -> list[dict[str, Any]]:
        cur = await self.db.execute("SELECT * FROM summaries ORDER BY article_id")
        return await cur.fetchall()


@pytest.fixture
async def world(create_database: Callable[[], str], settings: Settings) -> AsyncIterator[World]:
    url = create_database()
    migrate(url, Database.APP)
    local = with_overrides(
        settings, DATABASE_URL=url, NEWS_CREATOR_URL=f"http://127.0.0.1:{free_port()}"
    )
    pool = make_pool(local, SERVICES["pre-processor"])
    await pool.open()
    tokens = ServiceTokens("pre-processor", KeyRing.load(local.service_keys_file or ""))
    services = ServiceClient(local, tokens)
    db = await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)

    def make(summary: SummarySettings | None = None, timeout_s: float = 60) -> SummaryLoop:
        summary = summary or SummarySettings(backoff_first_s=0.05, breaker_cooldown_s=0.1)
        return SummaryLoop(pool, NewsCreatorClient(services, timeout_s), summary, local.llm)

    try:
        yield World(local, make, db, services)
    finally:
        await db.close()
        await services.aclose()
        await pool.close()


def fake_engine(fake: FakeLLM, **overrides: Any) -> LLMSettings:
    values: dict[str, Any] = {
        "engine": "openai",
        "base_url": fake.url,
        "model": "hostile-1",
        "embeddings": False,
        "timeout_s": 1.0,
        "judge_timeout_s": 1.0,
    }
    values.update(overrides)
    return LLMSettings(**values)


async def drain(loop: SummaryLoop, rounds: int = 50) -> None:
    for _ in range(rounds):
        if not await loop.run_once():
            return


async def test_stores_the_summary_with_its_marks_and_reuses_identical_text(
    world: World, fake_llm: FakeLLM
) -> None:
    fake_llm.reset("echo", judge_score=27)
    alice = uuid.uuid4()
    one, two = await world.feed(alice), await world.feed(alice)
    await world.article(one)
    await world.article(two)  # the same text syndicated to another feed
    await world.article(await world.feed())  # nobody reads this feed: no summary
    loop = world.loop()
    async with news_creator(world.settings, fake_engine(fake_llm)):
        await drain(loop)
    rows = await world.rows()
    assert len(rows) == 2
    assert all(row["status"] == "ready" for row in rows)
    made, reused = sorted(rows, key=lambda row: row["prompt_tokens"], reverse=True)
    assert made["engine"] == "openai"
    assert made["model"] == "hostile-1"
    assert made["score"] == 27
    assert made["grounded"] is True
    assert made["extractive"] is False
    assert made["language"] == "en"
    assert made["prompt_tokens"] == 22  # summary + judge
    assert made["duration_ms"] >= 0
    assert made["attempts"] == 1
    assert made["summary"].startswith("At low tide")
    assert reused["summary"] == made["summary"]
    assert reused["content_hash"] == made["content_hash"]
    assert len(fake_llm.summary_calls()) == 1  # one model call for both copies
    quota = await (await world.db.execute("SELECT user_id, used FROM summary_quota")).fetchall()
    assert quota == [{"user_id": alice, "used": 1}]


# REL-05: summaries wait for the model; each article once.
async def test_rel05_engine_down_articles_wait_then_each_is_summarised_once(
    world: World, fake_llm: FakeLLM
) -> None:
    fake_llm.reset("echo")
    feed = await world.feed(uuid.uuid4())
    for i in range(4):
        await world.article(feed, f"{TEXT} Story number {i}.", minutes_ago=i)
    loop = world.loop()
    for _ in range(5):  # news-creator is not running at all
        await loop.run_once()
    rows = await world.rows()
    assert len(rows) == 4
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in rows)
    assert any((r["error"] or "").startswith("unavailable") for r in rows)
    assert loop.breaker.state in ("open", "half_open")
    await world.db.execute("UPDATE summaries SET next_attempt_at = now()")
    async with news_creator(world.settings, fake_engine(fake_llm)):
        for _ in range(200):
            await loop.run_once()
            rows = await world.rows()
            if all(r["status"] == "ready" for r in rows):
                break
    assert [r["status"] for r in rows] == ["ready"] * 4
    assert len(fake_llm.summary_calls()) == 4  # each exactly once


# LLM-05: deadline, backoff, the article stays readable.
async def test_llm05_a_hanging_engine_is_retried_with_backoff_then_failed(
    world: World, fake_llm: FakeLLM
) -> None:
    fake_llm.reset("hang")
    article = await world.article(await world.feed(uuid.uuid4()))
    loop = world.loop(SummarySettings(backoff_first_s=0.05, breaker_failures=10))
    async with news_creator(world.settings, fake_engine(fake_llm, timeout_s=0.5)):
        for _ in range(40):
            await loop.run_once()
            [row] = await world.rows()
            if row["status"] == "failed":
                break
            await world.db.execute("UPDATE summaries SET next_attempt_at = now()")
    assert row["status"] == "failed"
    assert row["attempts"] == 3
    assert row["summary"] is None
    assert row["error"].startswith("timeout")
    assert len(fake_llm.summary_calls()) == 3
    still = await (
        await world.db.execute("SELECT id FROM articles WHERE id = %s", (article,))
    ).fetchone()
    assert still is not None  # the article stays readable without a summary


# LLM-06: errors store nothing; Retry-After is honoured.
async def test_llm06_errors_store_nothing_and_retry_after_is_honoured(
    world: World, fake_llm: FakeLLM
) -> None:
    await world.article(await world.feed(uuid.uuid4()))
    loop = world.loop()
    async with news_creator(world.settings, fake_engine(fake_llm)):
        fake_llm.reset("status500")
        await loop.run_once()
        [row] = await world.rows()
        assert row["status"] == "pending"
        assert row["summary"] is None
        assert row["attempts"] == 1
        assert row["error"].startswith("failed")
        await world.db.execute("UPDATE summaries SET next_attempt_at = now()")
        fake_llm.reset("status429")
        await loop.run_once()
        [row] = await world.rows()
        assert row["summary"] is None
        assert row["attempts"] == 1  # not the article's fault
        wait = await (
            await world.db.execute(
                "SELECT extract(epoch FROM next_attempt_at - now()) AS s FROM summaries"
            )
        ).fetchone()
        assert wait is not None
        assert 5 < float(wait["s"]) <= 300


# LLM-07: a daily cap per user and fair turns.
async def test_llm07_daily_cap_and_fair_turns(world: World, fake_llm: FakeLLM) -> None:
    fake_llm.reset("echo")
    heavy, light = uuid.uuid4(), uuid.uuid4()
    heavy_feed = await world.feed(heavy)
    for i in range(8):
        await world.article(heavy_feed, f"{TEXT} Item {i}.", minutes_ago=i)
    light_article = await world.article(
        await world.feed(light), f"{TEXT} Light news.", minutes_ago=60
    )
    loop = world.loop(SummarySettings(daily_cap=3, concurrency=2, backoff_first_s=0.05))
    async with news_creator(world.settings, fake_engine(fake_llm)):
        await loop.run_once()
        first = {r["article_id"]: r["status"] for r in await world.rows()}
        assert first[light_article] == "ready"  # B is served in the first round
        await drain(loop)
    rows = await world.rows()
    ready = [r for r in rows if r["status"] == "ready"]
    assert len(ready) == 4  # 3 for the heavy user (the cap), 1 for the light one
    assert sum(r["requested_for"] == heavy for r in ready) == 3
    used = await (
        await world.db.execute("SELECT used FROM summary_quota WHERE user_id = %s", (heavy,))
    ).fetchone()
    assert used == {"used": 3}


async def test_llm07_input_is_truncated_before_sending(world: World, fake_llm: FakeLLM) -> None:
    fake_llm.reset("echo")
    long_text = " ".join(f"Sentence {i} says tide pools are full of life." for i in range(2000))
    await world.article(await world.feed(uuid.uuid4()), long_text)
    async with news_creator(world.settings, fake_engine(fake_llm)):
        await drain(world.loop())
    sent = fake_llm.summary_calls()[0]["messages"][1]["content"]
    assert len(long_text) > 90_000
    assert len(sent) <= 24_000 + 300
    assert "Sentence 0 says" in sent  # the lead is kept


async def test_end_to_end_with_the_real_local_model(world: World) -> None:
    await world.article(await world.feed(uuid.uuid4()))
    async with news_creator(world.settings, local_model(cache=True)) as state:
        await drain(world.loop(timeout_s=300))
        assert state.model_calls == 1
        model = state.engine.model
    [row] = await world.rows()
    assert row["status"] == "ready"
    # The model's summary, not the extractive fallback (which would pass everything else).
    assert row["engine"] == "local"
    assert row["extractive"] is False
    assert row["model"] == model
    assert row["grounded"] is True
    assert 0 < len(row["summary"]) <= 1500
    cached = await (await world.db.execute("SELECT count(*) AS n FROM summary_cache")).fetchone()
    assert cached == {"n": 1}
