"""A feed farm on loopback, an egress client that reaches it, and a fresh app database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import psycopg
import pytest

from alt.config import Settings
from alt.platform.db import Pool
from alt.platform.egress import EgressClient, FetchLimits
from alt.platform.migrate import migrate
from alt.preprocessor.fetcher import FeedFetcher
from alt.preprocessor.settings import IngestSettings
from alt.services import Database
from tests.helpers import free_port, serving
from tests.support.farm import Farm, FarmResolver, url_of


@dataclass
class RunningFarm:
    farm: Farm
    port: int

    def url(self, feed: int) -> str:
        return url_of(feed, self.port)


@pytest.fixture
async def farm() -> AsyncIterator[RunningFarm]:
    port = free_port()
    app = Farm()
    async with serving({port: app}):
        yield RunningFarm(app, port)


@pytest.fixture
def app_url(create_database: Callable[[], str]) -> str:
    url = create_database()
    migrate(url, Database.APP)
    return url


@pytest.fixture
async def pool(app_url: str, settings: Settings) -> AsyncIterator[Pool]:
    from alt.platform.db import make_pool
    from alt.services import SERVICES
    from tests.helpers import with_overrides

    own = with_overrides(settings, DATABASE_URL=app_url)
    async with make_pool(own, SERVICES["pre-processor"]) as opened:
        yield opened


def egress_for(settings: Settings, port: int) -> EgressClient:
    limits = FetchLimits(allowed_ports=(port,), allow_private_hosts=(f"127.0.0.1:{port}",))
    return EgressClient(settings, limits, resolver=FarmResolver())


@pytest.fixture
async def fetcher(
    pool: Pool, settings: Settings, farm: RunningFarm, app_url: str
) -> AsyncIterator[FeedFetcher]:
    async with egress_for(settings, farm.port) as egress:
        yield FeedFetcher(pool, egress, IngestSettings(), app_url)


def subscribe(app_url: str, urls: list[str], user: uuid.UUID | None = None) -> list[int]:
    """Feeds and one user's subscriptions, as alt-backend would make them."""
    user = user or uuid.uuid4()
    ids = []
    with psycopg.connect(app_url) as conn:
        for url in urls:
            row = conn.execute(
                "INSERT INTO feeds (url) VALUES (%s) ON CONFLICT (url)"
                " DO UPDATE SET url = EXCLUDED.url RETURNING id",
                (url,),
            ).fetchone()
            assert row is not None
            conn.execute(
                "INSERT INTO subscriptions (user_id, feed_id) VALUES (%s, %s)", (user, row[0])
            )
            ids.append(row[0])
    return ids
