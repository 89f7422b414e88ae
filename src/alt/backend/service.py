"""The alt-backend service: the reader's API, scoped to the user of each request.

Built today: subscriptions (subscribe with discovery through the pre-processor, list, show,
rename, move, unsubscribe, refresh now), categories, OPML import and export, article lists and
detail, read state and stars, unread counts, stats (once and as a stream), the image proxy
(`alt.backend.images`), per-address and per-user rate limits and request deadlines
(`alt.platform.ratelimit`), and the purge of a deleted user's data for auth-service.
`not_built` lists what is still missing.

The routes are module-level handlers (one module per resource) over `alt.backend.storage`,
which holds the SQL; what they share per app (the egress policy, the image proxy, the stats
stream's pace) is made here once and put on the app's state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.middleware import Middleware

from alt.backend import articles, categories, images, internal, marks, opml, stats, subscriptions
from alt.backend.web import FETCH_LIMITS_STATE
from alt.config import Settings
from alt.platform.http_app import ServiceParts
from alt.platform.ratelimit import Deadline, RateLimit

SERVICE = "alt-backend"
# What any route may answer because of the middleware, told in the OpenAPI document.
GUARD_RESPONSES: dict[int | str, dict[str, str]] = {
    429: {"description": "too many requests from this address or user; see Retry-After"},
    503: {"description": "the request ran past its deadline, or a dependency is down"},
}


def _on_state(shared: dict[str, Any]) -> Any:
    """A lifespan that puts `shared` on the app's state, where the handlers' dependencies
    find it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for name, value in shared.items():
            setattr(app.state, name, value)
        yield

    return lifespan


def parts(settings: Settings) -> ServiceParts:
    # The egress policy (ALT_FETCH_*), to refuse URLs the fetcher would refuse, with the reason.
    limits = settings.fetch
    image_proxy = images.ImageProxy(settings, limits)
    shared = {
        FETCH_LIMITS_STATE: limits,
        images.IMAGE_PROXY_STATE: image_proxy,
        stats.STREAM_TIMING_STATE: settings.stats_stream,
    }
    routers = [
        subscriptions.router,
        categories.router,
        opml.router,
        articles.router,
        marks.router,
        stats.router,
        images.router,
        internal.router,
    ]
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                for status, doc in GUARD_RESPONSES.items():
                    route.responses.setdefault(status, doc)
    return ServiceParts(
        routers=[APIRouter(lifespan=_on_state(shared)), *routers],
        lifecycles=[image_proxy.lifecycle],
        # Rate limits first: a refused request costs no handler time.
        middleware=[
            Middleware(RateLimit, service=SERVICE, limits=settings.rate_limits),
            Middleware(Deadline, service=SERVICE, deadlines=settings.deadlines),
        ],
        not_built=[
            "tags and search",
        ],
    )
