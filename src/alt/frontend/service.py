"""The alt-frontend service. Until the reader UI exists, its front page is an honest status page:
which services are up and what each one does not do yet."""

from __future__ import annotations

import asyncio
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from alt.config import Settings
from alt.platform.http_app import ServiceContext, ServiceParts
from alt.services import SERVICES

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cache-Control": "no-store",
}


async def _service_status(ctx: ServiceContext, name: str) -> tuple[str, str]:
    try:
        response = await ctx.services.get(name, "/v1/health", timeout=2.0)
        missing = response.json().get("not_built") or []
    except Exception:
        return name, "down"
    return name, ("up; not built yet: " + ", ".join(missing)) if missing else "up"


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    async def status_page(request: Request) -> HTMLResponse:
        ctx: ServiceContext = request.app.state.ctx
        others = [name for name in SERVICES if name != ctx.spec.name]
        rows = await asyncio.gather(*(_service_status(ctx, name) for name in others))
        items = "".join(f"<li><b>{escape(name)}</b>: {escape(state)}</li>" for name, state in rows)
        page = (
            "<!doctype html><html lang=en><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>Alt</title><h1>Alt</h1><p>The reader is not built yet. Services:</p>"
            f"<ul>{items}</ul></html>"
        )
        return HTMLResponse(page, headers=SECURITY_HEADERS)

    return router


def parts(settings: Settings) -> ServiceParts:
    return ServiceParts(routers=[_router()], not_built=["the reader UI"])
