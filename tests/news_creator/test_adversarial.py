"""docs/SECURITY.md LLM-02..06 against the adversarial fake LLM (a real HTTP server standing in
for a hostile remote model), through news-creator with the `openai` and the `ollama` engines.
Containment must hold even when the model obeys the attacker."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from alt.config import Settings
from alt.news_creator.state import NewsCreator
from alt.platform.service_tokens import ServiceTokens
from alt.summaries.prompts import SYSTEM
from alt.summaries.settings import LLMSettings
from tests.summaries.support import FakeLLM, news_creator, news_creator_settings

CORPUS = Path(__file__).parents[1] / "feeds" / "corpus"
INJECTION = (CORPUS / "prompt-injection-article.html").read_text()
TIMEOUT_S = 2.0
ARTICLE = (
    "At low tide the rocky shelves north of the bay expose hundreds of tide pools. Each pool is "
    "a small ecosystem: sea anemones close when the water drains, ochre sea stars cling to "
    "mussel beds, and hermit crabs trade shells as they grow. Biologists count species along "
    "fixed transects every spring. Visitors should check the tide table before walking out."
)


@pytest.fixture(scope="module", params=["openai", "ollama"])
async def hostile(
    request: pytest.FixtureRequest, settings: Settings, fake_llm: FakeLLM
) -> AsyncIterator[tuple[NewsCreator, FakeLLM, Settings]]:
    front = news_creator_settings(settings)
    llm = LLMSettings(
        engine=request.param,
        base_url=fake_llm.url,
        model="hostile-1",
        api_key="sk-test-not-a-secret",
        timeout_s=TIMEOUT_S,
        judge_timeout_s=TIMEOUT_S,
        cache=False,
        embeddings=False,
    )
    async with news_creator(front, llm) as state:
        yield state, fake_llm, front


@pytest.fixture
async def client(
    hostile: tuple[NewsCreator, FakeLLM, Settings], keys_file: Path
) -> AsyncIterator[httpx.AsyncClient]:
    from alt.platform.service_tokens import KeyRing

    tokens = ServiceTokens("pre-processor", KeyRing.load(keys_file))
    async with httpx.AsyncClient(
        base_url=hostile[2].service_url("news-creator"),
        timeout=60,
        headers={"X-Service-Token": tokens.issue("news-creator")},
    ) as http:
        yield http


def _fake(
    hostile: tuple[NewsCreator, FakeLLM, Settings], mode: str, judge: int | None = 27
) -> FakeLLM:
    fake = hostile[1]
    fake.reset(mode, judge)
    return fake


# LLM-02: markup and links from the model never reach the summary.
async def test_llm02_obeyed_markup_and_links_never_reach_the_summary(
    hostile: tuple[NewsCreator, FakeLLM, Settings], client: httpx.AsyncClient
) -> None:
    fake = _fake(hostile, "obey")
    summarizer = hostile[0].summarizer
    gated = summarizer.settings
    summarizer.settings = gated.model_copy(update={"gate": False})  # the answer goes through
    try:
        response = await client.post("/api/v1/summarize", json={"content": ARTICLE})
    finally:
        summarizer.settings = gated
    assert response.status_code == 200, response.text
    summary = response.json()["summary"]
    assert "Tide pools form at low tide" in summary
    for bad in (
        "<",
        ">",
        "attacker.invalid",
        "javascript:",
        "onerror",
        "![",
        "](",
        "http",
        "<script",
    ):
        assert bad not in summary, bad
    assert len(summary) <= 1500
    assert fake.summary_calls()


# LLM-02: the gate replaces an answer that obeyed the injection.
async def test_llm02_gate_replaces_an_obeyed_answer(
    hostile: tuple[NewsCreator, FakeLLM, Settings], client: httpx.AsyncClient
) -> None:
    fake = _fake(hostile, "obey")
    response = await client.post("/api/v1/summarize", json={"content": ARTICLE})
    body = response.json()
    assert response.status_code == 200
    # "PWNED-PI-01" is not in the article: not grounded, regenerated once, then extractive.
    assert body["extractive"] is True
    assert body["engine"] == "extractive"
    assert "PWNED" not in body["summary"]
    assert body["grounded"] is True
    assert len(fake.summary_calls()) == 2


# LLM-03: only visible text, delimited as data, no secrets.
async def test_llm03_the_request_holds_only_the_visible_article_in_a_block(
    hostile: tuple[NewsCreator, FakeLLM, Settings],
    client: httpx.AsyncClient,
    settings: Settings,
    keys_file: Path,
) -> None:
    fake = _fake(hostile, "echo")
    response = await client.post("/api/v1/summarize", json={"content": INJECTION})
    assert response.status_code == 200, response.text
    first = fake.summary_calls()[0]
    raw = str(first)
    messages = first["messages"]
    assert messages[0] == {"role": "system", "content": SYSTEM}
    user = messages[1]["content"]
    block = re.search(r"<article>\n(.*)\n</article>$", user, re.DOTALL)
    assert block is not None
    assert user.count("<article>") == 1
    assert user.count("</article>") == 1
    data = block.group(1)
    assert "At low tide the rocky shelves" in data
    assert "outer edge of the shelf" in data
    # Hidden parts are gone: display:none, comment, font-size:0, alt text, meta, TAG chars.
    for marker in (
        "PWNED-PI-02",
        "PWNED-PI-03",
        "PWNED-PI-04",
        "PWNED-PI-05",
        "PWNED-PI-06",
        "PWNED-PI-07",
        "PWNED-PI-10",
        "PWNED-PI-11",
    ):
        assert marker not in raw, marker
    assert not re.search("[\U000e0000-\U000e007f\u200b-\u200f\u2060\ufeff]", raw)
    # Template tokens in the text cannot act as roles or close the block.
    assert "<|im_start|>" not in data
    assert "</article>" not in data
    # No credentials, tokens or other users' data.
    for secret in (
        "sk-test-not-a-secret",
        str(settings.database_url),
        "postgres:postgres",
        "PRIVATE KEY",
        str(keys_file),
        "X-Service-Token",
        "@",
    ):
        assert secret not in str(messages), secret
    # The system prompt is the same for every request.
    await client.post("/api/v1/summarize", json={"content": ARTICLE})
    assert fake.summary_calls()[-1]["messages"][0] == messages[0]


# LLM-04: endless output is cut at the cap.
async def test_llm04_a_flood_is_cut_at_the_cap(
    hostile: tuple[NewsCreator, FakeLLM, Settings], client: httpx.AsyncClient
) -> None:
    for mode in ("flood", "forever"):
        fake = _fake(hostile, mode)
        # A stream that never ends gets an answer: one that is not cut would hang the test.
        response = await client.post("/api/v1/summarize", json={"content": ARTICLE})
        assert response.status_code == 200, response.text
        assert len(response.json()["summary"]) <= 1500
        # Read is bounded: the stream is dropped soon after the output cap.
        assert fake.bytes_sent < 256 * 1024, (mode, fake.bytes_sent)


# LLM-05: a silent model is aborted at the deadline.
async def test_llm05_a_hanging_model_is_aborted_at_the_deadline(
    hostile: tuple[NewsCreator, FakeLLM, Settings], client: httpx.AsyncClient
) -> None:
    fake = _fake(hostile, "hang")
    # The model never answers (for an hour): only the engine's deadline ends the request, well
    # before the client's own 60 s timeout would.
    response = await client.post("/api/v1/summarize", json={"content": ARTICLE})
    assert response.status_code == 504
    assert response.json()["code"] == "engine_timeout"
    assert len(fake.summary_calls()) == 1  # the model was asked, and it hung


# LLM-06: errors, 429 and garbage make no summary.
@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("status500", 502, "engine_failed"),
        ("status503", 503, "engine_unavailable"),
        ("status429", 503, "engine_unavailable"),
        ("status429_superscript", 503, "engine_unavailable"),
        ("badjson", 502, "engine_failed"),
        ("truncated", 502, "engine_failed"),
        ("html", 502, "engine_failed"),
        ("empty", 502, "engine_failed"),
    ],
)
async def test_llm06_errors_and_garbage_make_no_summary(
    hostile: tuple[NewsCreator, FakeLLM, Settings],
    client: httpx.AsyncClient,
    mode: str,
    status: int,
    code: str,
) -> None:
    _fake(hostile, mode)
    response = await client.post("/api/v1/summarize", json={"content": ARTICLE})
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert "summary" not in response.json()
    if mode == "status429":
        assert response.headers["retry-after"] == "7"
    if mode == "status429_superscript":  # an unusable Retry-After is ignored, not an error
        assert "retry-after" not in response.headers


# LLM-06: an answer in the wrong language is not stored.
async def test_llm06_wrong_language_is_not_stored(
    hostile: tuple[NewsCreator, FakeLLM, Settings], client: httpx.AsyncClient
) -> None:
    fake = _fake(hostile, "wrong_language")
    response = await client.post("/api/v1/summarize", json={"content": ARTICLE})
    body = response.json()
    assert response.status_code == 200
    assert body["extractive"] is True
    assert body["language"] == "en"
    assert "Gezeitenbecken" not in body["summary"]
    assert len(fake.summary_calls()) == 2  # regenerated once, then extractive


async def test_gate_invented_facts_fall_back_to_extractive(
    hostile: tuple[NewsCreator, FakeLLM, Settings], client: httpx.AsyncClient
) -> None:
    _fake(hostile, "invent")
    body = (await client.post("/api/v1/summarize", json={"content": ARTICLE})).json()
    assert body["extractive"] is True
    assert "9,999" not in body["summary"]


async def test_gate_low_judge_score_regenerates_then_extracts(
    hostile: tuple[NewsCreator, FakeLLM, Settings], client: httpx.AsyncClient
) -> None:
    fake = _fake(hostile, "echo", judge=10)
    body = (await client.post("/api/v1/summarize", json={"content": ARTICLE})).json()
    assert body["extractive"] is True
    assert len(fake.summary_calls()) == 2


async def test_gate_a_silent_judge_never_costs_the_summary(
    hostile: tuple[NewsCreator, FakeLLM, Settings], client: httpx.AsyncClient
) -> None:
    _fake(hostile, "echo", judge=None)
    body = (await client.post("/api/v1/summarize", json={"content": ARTICLE})).json()
    assert body["extractive"] is False
    assert body["score"] is None
    assert body["summary"].startswith("At low tide")
    good = _fake(hostile, "echo", judge=28)
    body = (await client.post("/api/v1/summarize", json={"content": ARTICLE})).json()
    assert body["score"] == 28
    assert body["grounded"] is True
    assert body["extractive"] is False
    assert len(good.summary_calls()) == 1
