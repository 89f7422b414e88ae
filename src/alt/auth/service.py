"""auth-service: identity, sessions, CSRF and the user's signed token for other services.

Not public: every route but health needs a service token, and the browser-facing ones accept
only alt-frontend's (see `context`). Routes: `/v1/auth/{csrf,login,register,logout,refresh,
settings}` for browsers through the edge, `/v1/auth/{validate,keys,events}` for services,
`/v1/user/{profile,sessions,totp}` for the logged-in user, `/v1/user[/{id}]` for admins.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request

from alt.auth import audit, passwords, purge, routes_admin, routes_auth, routes_user
from alt.auth.context import Runtime, client_ip
from alt.auth.signing import UserTokenSigner
from alt.config import Settings
from alt.platform.auth_wire import allowed_origins
from alt.platform.guarded_route import API_HEADERS, guarded_route
from alt.platform.http_app import ServiceContext, ServiceParts
from alt.platform.logging import get_logger

log = get_logger(__name__)


async def _record_probe(request: Request, reason: str) -> None:
    ctx: ServiceContext = request.app.state.ctx
    assert ctx.pool is not None
    async with ctx.pool.connection() as conn:
        await audit.record(
            conn, "probe.blocked", ip=client_ip(request), reason=reason, path=request.url.path[:512]
        )


def _headers(request: Request) -> dict[str, str]:
    return API_HEADERS


def _lifespan(rt: Runtime) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.auth = rt
        await asyncio.to_thread(passwords.warm_up)
        ctx: ServiceContext = app.state.ctx
        assert ctx.pool is not None
        retry = asyncio.create_task(purge.background(ctx.pool, ctx.services, rt.cfg.purge_retry_s))
        try:
            yield
        finally:
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry

    return lifespan


def parts(settings: Settings) -> ServiceParts:
    cfg = settings.auth
    origins = allowed_origins(str(settings.alt_frontend_url), settings.edge.cors_origins)
    rt = Runtime(settings, cfg, UserTokenSigner(cfg), origins)
    route_class = guarded_route(_record_probe, _headers)
    # Fixed paths before `/v1/user/{user_id}`.
    routers = [
        routes_auth.router(route_class),
        routes_user.router(route_class),
        routes_admin.router(route_class),
        APIRouter(lifespan=_lifespan(rt)),
    ]
    return ServiceParts(routers=routers)
