"""`POST /api/v1/summarize {article_id, content, language?, title?}`: one checked summary.

The answer says what made it and how much it is to be trusted: `engine` and `model`, the
judge's `score` (0-30, null when not judged), `grounded`, `extractive` (the fallback was used),
token counts and `duration_ms`. Engine failures map to 503 (engine unavailable: wait, with
Retry-After when known), 504 (timed out), 502 (bad answer) and 422 (this content cannot be
summarised), so the caller can tell waiting from retrying from giving up.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from alt.news_creator.state import NewsCreator
from alt.platform.errors import AltError
from alt.platform.logging import get_logger
from alt.summaries.engines import EngineError

log = get_logger(__name__)

MAX_CONTENT_CHARS = 600_000


class SummarizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    article_id: int | str | None = None
    content: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS)
    language: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
    title: str | None = Field(default=None, max_length=1000)


class SummarizeResponse(BaseModel):
    article_id: int | str | None
    summary: str
    model: str
    engine: str
    score: int | None
    grounded: bool
    extractive: bool
    language: str
    prompt_tokens: int
    completion_tokens: int
    duration_ms: int
    cached: bool
    prompt_version: str


_STATUS = {
    "unavailable": (503, "engine_unavailable"),
    "timeout": (504, "engine_timeout"),
    "bad_output": (502, "engine_failed"),
    "rejected": (422, "not_summarizable"),
}


def router(state: NewsCreator) -> APIRouter:
    api = APIRouter(tags=["summaries"])

    @api.post("/api/v1/summarize")
    async def summarize(body: SummarizeRequest) -> SummarizeResponse:
        try:
            result, cached = await state.summarize(body.content, body.language, body.title)
        except EngineError as exc:
            status, code = _STATUS[exc.kind]
            log.warning(
                "summarize_failed", article_id=body.article_id, kind=exc.kind, error=exc.message
            )
            headers = {"Retry-After": str(int(exc.retry_after_s))} if exc.retry_after_s else None
            details: dict[str, Any] = {"kind": exc.kind}
            raise AltError(status, code, exc.message, details, headers) from None
        log.info(
            "summarized",
            article_id=body.article_id,
            engine=result.engine,
            model=result.model,
            score=result.score,
            grounded=result.grounded,
            extractive=result.extractive,
            cached=cached,
            duration_ms=result.duration_ms,
            notes=result.notes,
        )
        return SummarizeResponse(
            article_id=body.article_id,
            summary=result.summary,
            model=result.model,
            engine=result.engine,
            score=result.score,
            grounded=result.grounded,
            extractive=result.extractive,
            language=result.language,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            duration_ms=result.duration_ms,
            cached=cached,
            prompt_version=state.version(),
        )

    return api
