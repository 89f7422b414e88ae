"""The pre-processor service: fetches feeds on their schedule, validates new subscriptions,
applies retention."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import procrastinate
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from alt.config import Settings
from alt.platform.db import database_url
from alt.platform.egress import EgressClient, FetchError
from alt.platform.errors import AltError
from alt.platform.http_app import ServiceContext, ServiceParts
from alt.platform.jobs import housekeeping
from alt.platform.logging import get_logger
from alt.preprocessor import discover, retention
from alt.preprocessor.fetcher import FeedFetcher, running
from alt.preprocessor.settings import IngestSettings
from alt.services import Database

QUEUE = "pre-processor"
log = get_logger(__name__)


@dataclass
class Runtime:
    policy: IngestSettings = field(default_factory=IngestSettings)
    egress: EgressClient | None = None
    fetcher: FeedFetcher | None = None


class DiscoverRequest(BaseModel):
    url: str = Field(min_length=1, max_length=2048)


class DiscoverResponse(BaseModel):
    feed_id: int
    url: str
    title: str
    site_url: str | None
    inserted: int


def _router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/v1/feeds", tags=["feeds"])

    @router.post("/discover")
    async def discover_feed(body: DiscoverRequest, request: Request) -> DiscoverResponse:
        """Find the feed at (or named by) a URL, store it with its first entries."""
        ctx: ServiceContext = request.app.state.ctx
        assert runtime.egress is not None
        assert ctx.pool is not None
        try:
            url, result, feed = await discover.find_feed(runtime.egress, body.url)
        except FetchError as exc:
            raise AltError(422, f"fetch_{exc.reason}", f"Could not fetch {body.url}: {exc}",
                           {"reason": exc.reason, "status": exc.status}) from None
        except discover.NotAFeed as exc:
            raise AltError(422, "not_a_feed", str(exc)) from None
        found = await discover.store_new_feed(ctx.pool, runtime.policy, url, result, feed)
        return DiscoverResponse(**found.__dict__)

    return router


def _blueprint(runtime: Runtime) -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.periodic(cron="41 * * * *")
    @blueprint.task(name="apply_retention", queue=QUEUE, queueing_lock=f"{QUEUE}:retention")
    async def apply_retention(timestamp: int) -> None:
        assert runtime.fetcher is not None
        async with runtime.fetcher.pool.connection() as conn:
            deleted = await retention.purge(conn, runtime.policy)
        log.info("retention_applied", deleted=deleted)

    return blueprint


def parts(settings: Settings) -> ServiceParts:
    runtime = Runtime()

    @contextlib.asynccontextmanager
    async def fetching(ctx: ServiceContext) -> AsyncIterator[None]:
        assert ctx.pool is not None
        async with EgressClient(settings) as egress:
            runtime.egress = egress
            runtime.fetcher = FeedFetcher(ctx.pool, egress, runtime.policy,
                                          database_url(settings, Database.APP))
            async with running(runtime.fetcher):
                yield

    return ServiceParts(
        routers=[_router(runtime)],
        queues=[QUEUE],
        blueprints={f"{QUEUE}.housekeeping": housekeeping(QUEUE),
                    f"{QUEUE}.ingest": _blueprint(runtime)},
        lifecycles=[fetching],
        not_built=[
            "full-text extraction",
            "summary requests and the quality gate",
        ],
    )
