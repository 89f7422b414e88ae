"""The reading pages: the unread stream and the other views of articles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from alt.frontend.ui.render import render
from alt.frontend.ui.viewer import ViewerDep


def router(route_class: type[APIRoute], dependencies: Sequence[Any] = ()) -> APIRouter:
    r = APIRouter(route_class=route_class, dependencies=list(dependencies), include_in_schema=False)

    @r.get("/")
    async def unread(request: Request, viewer: ViewerDep) -> HTMLResponse:
        return render(request, "home.html", {"viewer": viewer})

    return r
