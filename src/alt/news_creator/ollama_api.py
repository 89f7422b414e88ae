"""The Ollama-compatible API: `/api/generate`, `/api/chat` (NDJSON streams or one JSON
object), `/api/tags`, `/api/show`, `/api/version`, in the shapes of Ollama's published API, so
that Ollama clients work against news-creator. Durations are nanoseconds; errors are
`{"error": "..."}` with an HTTP status before a stream starts and an `{"error": ...}` line
inside one.

Like every route of news-creator these need a service token (LLM-01: internal only).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from alt.news_creator.state import NewsCreator
from alt.platform.logging import get_logger
from alt.summaries.engines import Chunk, EngineError, GenOptions, ModelCard, Prompt, with_deadline

log = get_logger(__name__)

OLLAMA_VERSION = "0.12.0"
"""The Ollama API version whose shapes this follows."""
MAX_PREDICT = 4096
MAX_API_OUTPUT_CHARS = 64_000
NDJSON = "application/x-ndjson"


class Options(BaseModel):
    model_config = ConfigDict(extra="ignore")

    num_predict: int | None = Field(default=None, ge=-2)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    stop: list[str] | str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str = Field(pattern="^(system|user|assistant|tool)$")
    content: str = ""


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    prompt: str = ""
    system: str | None = None
    raw: bool = False
    stream: bool = True
    options: Options | None = None
    keep_alive: int | str | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    messages: list[Message] = Field(default_factory=list, max_length=500)
    stream: bool = True
    options: Options | None = None
    keep_alive: int | str | None = None


class ShowRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    verbose: bool = False


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def ollama_error(status: int, message: str, retry_after_s: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(int(retry_after_s))} if retry_after_s else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def engine_status(error: EngineError) -> int:
    return {"unavailable": 503, "timeout": 504, "bad_output": 502, "rejected": 400}[error.kind]


def _options(options: Options | None, default_predict: int) -> GenOptions:
    options = options or Options()
    predict = options.num_predict
    if predict is None or predict < 0:
        predict = default_predict
    stop = options.stop
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    return GenOptions(
        max_tokens=min(predict, MAX_PREDICT),
        temperature=0.8 if options.temperature is None else options.temperature,
        top_p=options.top_p,
        seed=options.seed,
        stop=stops[:8],
        max_chars=MAX_API_OUTPUT_CHARS,
    )


def _details(card: ModelCard) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": card.format,
        "family": card.family,
        "families": [card.family] if card.family else None,
        "parameter_size": card.parameter_size,
        "quantization_level": card.quantization_level,
    }


def router(state: NewsCreator) -> APIRouter:
    api = APIRouter(tags=["ollama"])

    async def resolve(name: str) -> ModelCard | None:
        wanted = name.removesuffix(":latest")
        for card in await state.cards():
            if card.name.removesuffix(":latest") == wanted:
                return card
        return None

    @api.get("/api/version")
    async def version() -> dict[str, str]:
        return {"version": OLLAMA_VERSION}

    @api.get("/api/tags")
    async def tags() -> dict[str, Any]:
        return {
            "models": [
                {
                    "name": card.name,
                    "model": card.name,
                    "modified_at": card.modified_at or _now(),
                    "size": card.size,
                    "digest": card.digest,
                    "details": _details(card),
                }
                for card in await state.cards()
            ]
        }

    @api.post("/api/show", response_model=None)
    async def show(body: ShowRequest) -> JSONResponse | dict[str, Any]:
        name = body.model or body.name or ""
        card = await resolve(name)
        if card is None:
            return ollama_error(404, f"model '{name}' not found")
        info: dict[str, Any] = {
            "general.architecture": card.family,
            "general.parameter_count": None,
            **card.extra,
        }
        if card.context_length:
            info[f"{card.family or 'model'}.context_length"] = card.context_length
        return {
            "modelfile": f"FROM {card.name}\n",
            "parameters": "",
            "template": card.template,
            "details": _details(card),
            "model_info": info,
            "capabilities": ["completion"],
            "modified_at": card.modified_at or _now(),
        }

    @api.post("/api/generate", response_model=None)
    async def generate(body: GenerateRequest, request: Request) -> Response:
        card = await resolve(body.model)
        if card is None:
            return ollama_error(404, f"model '{body.model}' not found, try pulling it first")
        if not body.prompt:
            return JSONResponse(
                {
                    "model": body.model,
                    "created_at": _now(),
                    "response": "",
                    "done": True,
                    "done_reason": "load",
                }
            )
        if body.raw:
            prompt = Prompt(raw=body.prompt)
        else:
            messages = [{"role": "system", "content": body.system}] if body.system else []
            prompt = Prompt(messages=[*messages, {"role": "user", "content": body.prompt}])
        options = _options(body.options, state.llm.num_predict)
        return await _answer(
            state, body.model, prompt, options, body.stream, lambda text: {"response": text}
        )

    @api.post("/api/chat", response_model=None)
    async def chat(body: ChatRequest, request: Request) -> Response:
        card = await resolve(body.model)
        if card is None:
            return ollama_error(404, f"model '{body.model}' not found, try pulling it first")
        if not body.messages:
            return JSONResponse(
                {
                    "model": body.model,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": ""},
                    "done_reason": "load",
                    "done": True,
                }
            )
        prompt = Prompt(messages=[{"role": m.role, "content": m.content} for m in body.messages])
        options = _options(body.options, state.llm.num_predict)
        return await _answer(
            state,
            body.model,
            prompt,
            options,
            body.stream,
            lambda text: {"message": {"role": "assistant", "content": text}},
        )

    return api


async def _answer(
    state: NewsCreator, model: str, prompt: Prompt, options: GenOptions, stream: bool, shape: Any
) -> Response:
    engine_model = None if model.removesuffix(":latest") == state.engine.model else model
    started = time.monotonic_ns()
    chunks = with_deadline(state.engine.stream(prompt, options, engine_model), state.llm.timeout_s)

    def final(last: Chunk, text: str = "") -> dict[str, Any]:
        total = time.monotonic_ns() - started
        return {
            "model": model,
            "created_at": _now(),
            **shape(text),
            "done": True,
            "done_reason": last.done_reason or "stop",
            "total_duration": total,
            "load_duration": 0,
            "prompt_eval_count": last.prompt_tokens or 0,
            "prompt_eval_duration": 0,
            "eval_count": last.completion_tokens or 0,
            "eval_duration": total,
        }

    if not stream:
        parts: list[str] = []
        last = Chunk("", done=True)
        try:
            async for chunk in chunks:
                parts.append(chunk.text)
                if chunk.done:
                    last = chunk
                    break
        except EngineError as exc:
            return ollama_error(engine_status(exc), exc.message, exc.retry_after_s)
        return JSONResponse(final(last, "".join(parts)))

    # The first chunk decides the status: an engine that is down is a 503, not a 200 stream
    # that carries an error line.
    iterator = aiter(chunks)
    try:
        first = await anext(iterator)
    except StopAsyncIteration:
        first = Chunk("", done=True)
    except EngineError as exc:
        return ollama_error(engine_status(exc), exc.message, exc.retry_after_s)

    async def lines() -> AsyncIterator[bytes]:
        chunk = first
        try:
            while True:
                if chunk.done:
                    if chunk.text:
                        yield _line(
                            {
                                "model": model,
                                "created_at": _now(),
                                **shape(chunk.text),
                                "done": False,
                            }
                        )
                    yield _line(final(chunk))
                    return
                yield _line(
                    {"model": model, "created_at": _now(), **shape(chunk.text), "done": False}
                )
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    chunk = Chunk("", done=True)
        except EngineError as exc:
            yield _line({"error": exc.message})

    return StreamingResponse(lines(), media_type=NDJSON)


def _line(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode() + b"\n"
