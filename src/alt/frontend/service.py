"""The alt-frontend service, the only public one: the edge in front of every other service.

It serves the reader UI (pages rendered from alt-backend's and auth-service's answers, see
`alt.frontend.ui`), passes `/api/auth/*` to auth-service and `/api/v1/*` (with a verified user
token) to alt-backend. Every response of its routes carries security headers; state-changing
requests from other sites are refused; obvious attack probes get 403 and are reported to
auth-service's audit log; paths it does not serve get 404 (405 for a known path with another
method).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.routing import Match

from alt.config import Settings
from alt.frontend import csp_reports, pages, proxy
from alt.frontend.edge import AUTH, Edge, client_ip, edge_of, refuse_cross_site
from alt.frontend.ui import (
    accounts,
    admin,
    assets,
    pwa,
    reading,
    stats,
    status,
    subscriptions,
)
from alt.frontend.ui.route import page_route
from alt.platform.errors import error_response
from alt.platform.guarded_route import guarded_route
from alt.platform.http_app import ServiceContext, ServiceParts
from alt.platform.logging import get_logger

log = get_logger(__name__)

SECURITY_HEADERS = {
    # Strict: scripts and styles only from our own files (no inline code, no eval), images of
    # articles only through the image proxy, no framing.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
    "worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    # report-uri, not report-to: browsers send those reports at once, not batched.
    "form-action 'self'; report-uri /csp-report",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cache-Control": "no-store",
}
HSTS = "max-age=63072000; includeSubDomains"
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_HEADERS = "Content-Type, X-CSRF-Token, X-Request-ID"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def response_headers(request: Request) -> dict[str, str]:
    edge = edge_of(request)
    headers = dict(SECURITY_HEADERS)
    if edge.https:
        headers["Strict-Transport-Security"] = HSTS
    origin = request.headers.get("origin")
    if origin and origin.lower() in {o.lower() for o in edge.cfg.cors_origins}:
        headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
                "Vary": "Origin",
            }
        )
    return headers


async def report_probe(request: Request, reason: str) -> None:
    """Tell auth-service's audit log; never let reporting fail the refusal."""
    ctx: ServiceContext = request.app.state.ctx
    event = {
        "event": "probe.blocked",
        "ip": client_ip(request, edge_of(request)),
        "reason": reason,
        "path": request.url.path[:512],
    }
    try:
        await ctx.services.post(AUTH, "/v1/auth/events", json=event, timeout=2.0)
    except Exception as exc:
        log.warning("probe_report_failed", error=type(exc).__name__)


def _fallback_router(route_class: type[Any]) -> APIRouter:
    """Last in line: CORS preflights, then 405 or 404 for everything no route serves."""
    router = APIRouter(route_class=route_class)

    @router.options("/api/{rest:path}")
    async def preflight(request: Request) -> Response:
        origin = request.headers.get("origin", "")
        if origin.lower() not in {o.lower() for o in edge_of(request).cfg.cors_origins}:
            return error_response(403, "forbidden", "This origin may not call the API.")
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Methods": CORS_METHODS,
                "Access-Control-Allow-Headers": CORS_HEADERS,
                "Access-Control-Max-Age": "600",
            },
        )

    @router.api_route("/{path:path}", methods=ALL_METHODS, include_in_schema=False)
    async def unknown(path: str, request: Request) -> Response:
        partial = any(
            route.matches(request.scope)[0] is Match.PARTIAL for route in request.app.router.routes
        )
        if partial:
            return error_response(405, "method_not_allowed", "Method Not Allowed")
        return error_response(404, "not_found", "Not found.")

    return router


def _lifespan(edge: Edge) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.edge = edge
        yield

    return lifespan


def parts(settings: Settings) -> ServiceParts:
    edge = Edge.build(settings, settings.edge)
    route_class = guarded_route(report_probe, response_headers)
    page_class = page_route(route_class)
    guarded = [Depends(refuse_cross_site)]
    routers = [
        APIRouter(lifespan=_lifespan(edge)),
        assets.router(route_class),
        csp_reports.router(route_class),
        pages.router(page_class, guarded),
        reading.router(page_class, guarded),
        subscriptions.router(page_class, guarded),
        stats.router(page_class, guarded),
        accounts.router(page_class, guarded),
        admin.router(page_class, guarded),
        pwa.router(page_class, guarded),
        status.router(page_class, guarded),
        proxy.router(route_class, guarded),
        _fallback_router(route_class),
    ]
    return ServiceParts(routers=routers)
