"""The services' status, for admins: which services answer and what each has not built yet."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from alt.frontend.ui.render import render
from alt.frontend.ui.viewer import ViewerDep
from alt.platform.errors import AltError
from alt.platform.http_app import ServiceContext
from alt.services import SERVICES


async def _service_status(ctx: ServiceContext, name: str) -> dict[str, object]:
    try:
        response = await ctx.services.get(name, "/v1/health", timeout=2.0)
        missing = response.json().get("not_built") or []
    except Exception:
        return {"name": name, "up": False, "not_built": []}
    return {"name": name, "up": True, "not_built": missing}


def router(route_class: type[APIRoute], dependencies: Sequence[Any] = ()) -> APIRouter:
    r = APIRouter(route_class=route_class, dependencies=list(dependencies), include_in_schema=False)

    @r.get("/status")
    async def status_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
        if not viewer.is_admin:
            raise AltError(403, "forbidden", "Only an admin may see this page.")
        ctx: ServiceContext = request.app.state.ctx
        others = [name for name in SERVICES if name != ctx.spec.name]
        rows = await asyncio.gather(*(_service_status(ctx, name) for name in others))
        return render(request, "status.html", {"viewer": viewer, "services": rows})

    return r
