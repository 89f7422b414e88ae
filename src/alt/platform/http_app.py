"""The one ASGI app factory every HTTP service is built with.

It gives each service the same skeleton: `/v1/health`, `/v1/live`, `/v1/ready` (which really asks
the service's database and the services it calls), `/metrics`, request ids, JSON access logs, the
error envelope, body limits, service-token checks and an orderly start and stop of the database
pool, the job worker and outbound clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import procrastinate
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.middleware import Middleware

import alt
from alt.config import Settings
from alt.platform.background import Loops, LoopStopped, in_background, tracking
from alt.platform.db import Pool, make_pool
from alt.platform.errors import error_response, install_error_handlers
from alt.platform.jobs import make_job_app, supervise_worker
from alt.platform.logging import get_logger
from alt.platform.metrics import exposition
from alt.platform.middleware import BodyLimit, RequestContext, ServiceAuth
from alt.platform.service_client import ServiceClient
from alt.platform.service_tokens import KeyRing, ServiceTokens
from alt.services import ServiceSpec

log = get_logger(__name__)

READY_TIMEOUT_S = 2.0

Check = Callable[["ServiceContext"], Awaitable[None]]
Lifecycle = Callable[["ServiceContext"], contextlib.AbstractAsyncContextManager[None]]


@dataclass
class ServiceParts:
    """What a service adds to the common skeleton."""

    routers: list[APIRouter] = field(default_factory=list)
    blueprints: dict[str, procrastinate.Blueprint] = field(default_factory=dict)
    queues: list[str] = field(default_factory=list)
    checks: dict[str, Check] = field(default_factory=dict)
    lifecycles: list[Lifecycle] = field(default_factory=list)
    """Entered in order once the pool and the job worker run, left in reverse at stop: the
    service's own long-lived parts (clients, background loops)."""
    middleware: list[Middleware] = field(default_factory=list)
    """The service's own ASGI middleware, run after the common ones (the service-token check
    included) and before the routes; the first listed runs first."""
    not_built: list[str] = field(default_factory=list)
    """Features of this service that do not exist yet; told plainly by /v1/health and the log."""
    health: Callable[[], dict[str, Any]] | None = None
    """What the service adds to /v1/health (news-creator: the engine it runs, degraded or not)."""


@dataclass
class ServiceContext:
    """The live resources of a running service, on `app.state.ctx`."""

    spec: ServiceSpec
    settings: Settings
    tokens: ServiceTokens
    services: ServiceClient
    pool: Pool | None = None
    jobs: procrastinate.App | None = None
    loops: Loops = field(default_factory=Loops)
    """The service's background loops; readiness fails while one of them is down."""


def load_tokens(spec: ServiceSpec, settings: Settings) -> ServiceTokens:
    if settings.service_keys_file is None:
        raise RuntimeError(
            "ALT_SERVICE_KEYS_FILE: not set; `alt up` generates one, "
            "or point it at the deployment's service key file"
        )
    return ServiceTokens(
        spec.name, KeyRing.load(settings.service_keys_file), settings.service_token_ttl_s
    )


def create_app(
    spec: ServiceSpec, settings: Settings, parts: ServiceParts, tokens: ServiceTokens | None = None
) -> FastAPI:
    tokens = tokens or load_tokens(spec, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = ServiceContext(spec, settings, tokens, ServiceClient(settings, tokens))
        app.state.ctx = ctx
        if parts.not_built:
            log.warning("features_not_built", service=spec.name, missing=parts.not_built)
        async with contextlib.AsyncExitStack() as stack:
            stack.enter_context(tracking(ctx.loops))
            stack.push_async_callback(ctx.services.aclose)
            if spec.database is not None:
                ctx.pool = make_pool(settings, spec)
                # Start even when the database is down: /v1/ready says so until it is back.
                await ctx.pool.open(wait=False)
                stack.push_async_callback(ctx.pool.close)
            if parts.queues:
                assert spec.db_role is not None
                ctx.jobs = make_job_app(settings, spec.db_role, parts.blueprints)
                await stack.enter_async_context(ctx.jobs.open_async())
                await stack.enter_async_context(
                    in_background(
                        "job worker",
                        functools.partial(
                            supervise_worker, ctx.jobs, settings, parts.queues, name=spec.name
                        ),
                    )
                )
            for lifecycle in parts.lifecycles:
                await stack.enter_async_context(lifecycle(ctx))
            log.info("service_started", service=spec.name, version=alt.__version__)
            yield
        log.info("service_stopped", service=spec.name)

    app = FastAPI(
        title=spec.name,
        version=alt.__version__,
        lifespan=lifespan,
        # Any route with a body may meet one it cannot read (not JSON, bad multipart).
        responses={400: {"description": "The request body could not be read."}},
        docs_url=None,
        redoc_url=None,
        # The public edge publishes no schema of itself (AUTH-11).
        openapi_url=None if spec.public else "/v1/openapi.json",
    )
    install_error_handlers(app)
    app.include_router(_health_router(spec, settings, parts))
    for router in parts.routers:
        app.include_router(router)
    # Outermost first at run time: context → size limit → service token → the service's own
    # middleware → routes.
    for own in reversed(parts.middleware):
        app.add_middleware(own.cls, *own.args, **own.kwargs)
    if not spec.public:
        app.add_middleware(ServiceAuth, tokens=tokens)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestContext, service=spec.name)
    return app


def _health_router(spec: ServiceSpec, settings: Settings, parts: ServiceParts) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/v1/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "service": spec.name,
            "version": alt.__version__,
            "not_built": parts.not_built,
            **(parts.health() if parts.health else {}),
        }

    @router.get("/v1/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/v1/ready")
    async def ready(request: Request) -> JSONResponse:
        ctx: ServiceContext = request.app.state.ctx
        checks = _readiness_checks(ctx, parts)
        results = await asyncio.gather(*(_run_check(check, ctx) for check in checks.values()))
        report = dict(zip(checks, results, strict=True))
        if all(result == "ok" for result in report.values()):
            return JSONResponse({"status": "ready", "checks": report})
        failed = ", ".join(name for name, result in report.items() if result != "ok")
        return error_response(503, "not_ready", f"Not ready: {failed}.", report)

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if not _may_scrape(request, settings):
            return error_response(404, "not_found", "Not found.")
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


def _readiness_checks(ctx: ServiceContext, parts: ServiceParts) -> dict[str, Check]:
    checks: dict[str, Check] = {}
    if ctx.pool is not None:
        checks["database"] = _check_database
    for callee in ctx.spec.calls:
        checks[callee] = _check_service(callee)
    for loop in ctx.loops.names():
        checks[loop] = _check_loop(loop)
    checks.update(parts.checks)
    return checks


async def _run_check(check: Check, ctx: ServiceContext) -> str:
    try:
        await asyncio.wait_for(check(ctx), READY_TIMEOUT_S)
    except TimeoutError:
        return "timeout"
    except LoopStopped as exc:
        return str(exc)
    except Exception as exc:
        return f"failed: {type(exc).__name__}"
    return "ok"


async def _check_database(ctx: ServiceContext) -> None:
    assert ctx.pool is not None
    async with ctx.pool.connection(timeout=READY_TIMEOUT_S) as conn:
        await conn.execute("SELECT 1")


def _check_service(callee: str) -> Check:
    async def check(ctx: ServiceContext) -> None:
        response = await ctx.services.get(callee, "/v1/live", timeout=READY_TIMEOUT_S)
        response.raise_for_status()

    return check


def _check_loop(name: str) -> Check:
    async def check(ctx: ServiceContext) -> None:
        ctx.loops.check(name)

    return check


def _may_scrape(request: Request, settings: Settings) -> bool:
    """Metrics go to a scraper holding the metrics token, or to the machine itself. The socket
    peer decides, never a forwarding header."""
    supplied = request.headers.get("authorization", "")
    if settings.metrics_token and secrets.compare_digest(
        supplied.encode(), f"Bearer {settings.metrics_token}".encode()
    ):
        return True
    peer = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False
