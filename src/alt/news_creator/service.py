"""The news-creator service: the LLM gateway.

An Ollama-compatible API (`alt.news_creator.ollama_api`) over the configured engine and
`POST /api/v1/summarize` (`alt.news_creator.summarize`), which runs the checked summary
pipeline of `alt.summaries.pipeline` and keeps results in `summary_cache` by content hash.
Internal only: every route but the health endpoints needs a service token (LLM-01).
"""

from __future__ import annotations

from alt.config import Settings
from alt.news_creator import ollama_api, summarize
from alt.news_creator.state import NewsCreator
from alt.platform.http_app import ServiceContext, ServiceParts
from alt.summaries.settings import LLMSettings


def parts(settings: Settings) -> ServiceParts:
    return build(settings)[0]


def build(settings: Settings, llm: LLMSettings | None = None) -> tuple[ServiceParts, NewsCreator]:
    """The service's parts and its live state (engine, cache, counters), for tests and tools."""
    state = NewsCreator(settings, llm)

    async def engine_ready(ctx: ServiceContext) -> None:
        await state.engine.check()

    return ServiceParts(
        routers=[ollama_api.router(state), summarize.router(state)],
        lifecycles=[state.lifecycle],
        checks={"engine": engine_ready},
        health=state.health,
    ), state
