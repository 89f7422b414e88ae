"""The pre-processor service: fetches feeds on their schedule, validates new subscriptions,
applies retention."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import procrastinate
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from alt.config import Settings
from alt.platform.background import in_background
from alt.platform.db import database_url
from alt.platform.egress import EgressClient, FetchError
from alt.platform.errors import AltError
from alt.platform.http_app import ServiceContext, ServiceParts
from alt.platform.jobs import housekeeping
from alt.platform.logging import get_logger
from alt.preprocessor import new_feed, retention
from alt.preprocessor.extraction_loop import ArticleExtractor
from alt.preprocessor.fetcher import FeedFetcher
from alt.preprocessor.parsing import FeedParsers
from alt.preprocessor.settings import IngestSettings
from alt.services import Database
from alt.summaries.loop import lifecycle as summary_lifecycle

QUEUE = "pre-processor"
log = get_logger(__name__)


@dataclass
class Runtime:
    policy: IngestSettings
    egress: EgressClient | None = None
    parsers: FeedParsers | None = None
    fetcher: FeedFetcher | None = None
    extractor: ArticleExtractor | None = None


class DiscoverRequest(BaseModel):
    url: str = Field(min_length=1, max_length=2048)


class DiscoverResponse(BaseModel):
    feed_id: int
    url: str
    title: str
    site_url: str | None
    inserted: int


class FeedChoice(BaseModel):
    url: str
    title: str


class FeedChoices(BaseModel):
    feeds: list[FeedChoice]


@contextlib.contextmanager
def _verdicts(url: str) -> Iterator[None]:
    """Why `url` gives no feed, as a 422 for the person who typed it."""
    try:
        yield
    except FetchError as exc:
        raise AltError(
            422,
            f"fetch_{exc.reason}",
            f"Could not fetch {url}: {exc}",
            {"reason": exc.reason, "status": exc.status},
        ) from None
    except new_feed.NotAFeed as exc:
        raise AltError(422, "not_a_feed", str(exc)) from None
    except new_feed.FeedUnreadable as exc:
        raise AltError(422, "feed_unreadable", str(exc)) from None


def _router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/v1/feeds", tags=["feeds"])

    @router.post("/discover")
    async def discover_feed(body: DiscoverRequest, request: Request) -> DiscoverResponse:
        """Find the feed at (or named by) a URL, store it with its first entries."""
        ctx: ServiceContext = request.app.state.ctx
        assert runtime.egress is not None
        assert runtime.parsers is not None
        assert ctx.pool is not None
        with _verdicts(body.url):
            url, result, feed = await new_feed.find_feed(runtime.egress, runtime.parsers, body.url)
        found = await new_feed.store_new_feed(ctx.pool, runtime.policy, url, result, feed)
        return DiscoverResponse(**found.__dict__)

    @router.post("/candidates")
    async def feed_candidates(body: DiscoverRequest) -> FeedChoices:
        """The feeds at (or announced by) a URL, to choose from; nothing is stored."""
        assert runtime.egress is not None
        assert runtime.parsers is not None
        with _verdicts(body.url):
            found = await new_feed.list_feeds(runtime.egress, runtime.parsers, body.url)
        return FeedChoices(feeds=[FeedChoice(url=c.url, title=c.title) for c in found])

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
    runtime = Runtime(settings.ingest)

    @contextlib.asynccontextmanager
    async def ingesting(ctx: ServiceContext) -> AsyncIterator[None]:
        assert ctx.pool is not None
        # Two clients: article pages get per-host limits of their own, apart from feeds.
        async with (
            EgressClient(settings) as egress,
            EgressClient(settings) as pages,
            FeedParsers(runtime.policy.parse_workers, runtime.policy.parse_cpu_budget_s) as parsers,
        ):
            runtime.egress, runtime.parsers = egress, parsers
            runtime.extractor = ArticleExtractor(ctx.pool, pages)
            runtime.fetcher = FeedFetcher(
                ctx.pool,
                egress,
                runtime.policy,
                database_url(settings, Database.APP),
                on_new_articles=runtime.extractor.wake,
                parsers=parsers,
            )
            async with (
                in_background("fetcher", runtime.fetcher.run_forever),
                in_background("extractor", runtime.extractor.run_forever),
            ):
                yield

    return ServiceParts(
        routers=[_router(runtime)],
        queues=[QUEUE],
        blueprints={
            f"{QUEUE}.housekeeping": housekeeping(QUEUE),
            f"{QUEUE}.ingest": _blueprint(runtime),
        },
        lifecycles=[ingesting, summary_lifecycle(settings.summaries, settings.llm)],
    )
