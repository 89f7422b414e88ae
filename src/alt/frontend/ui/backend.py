"""alt-backend, called by a page on behalf of its viewer (with the viewer's user token)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Request

from alt.frontend.edge import client_ip, edge_of
from alt.frontend.ui.viewer import Viewer
from alt.platform.auth_wire import CLIENT_IP_HEADER
from alt.platform.errors import AltError
from alt.platform.identity import USER_TOKEN_HEADER

BACKEND = "alt-backend"
TIMEOUT_S = 100.0
"""Subscribing waits for the feed's discovery: up to a feed fetch and a few pages."""


class Backend:
    def __init__(self, request: Request, viewer: Viewer) -> None:
        self._services = request.app.state.ctx.services
        self._headers = {
            USER_TOKEN_HEADER: viewer.token,
            CLIENT_IP_HEADER: client_ip(request, edge_of(request)),
        }

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """alt-backend's answer as it is, whatever its status."""
        headers = self._headers | kwargs.pop("headers", {})
        response: httpx.Response = await self._services.request(
            BACKEND, method, path, headers=headers, timeout=TIMEOUT_S, **kwargs
        )
        return response

    async def get(self, path: str, **params: Any) -> Any:
        """The JSON of a successful GET; alt-backend's error as an `AltError` otherwise."""
        clean = {name: value for name, value in params.items() if value is not None}
        return answer_of(await self.call("GET", path, params=clean))

    async def send(self, method: str, path: str, json: Any = None) -> Any:
        return answer_of(await self.call(method, path, json=json))


def answer_of(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json() if response.content else None
    try:
        body = response.json()
    except ValueError:
        body = {}
    raise AltError(
        response.status_code,
        str(body.get("code") or "backend_error"),
        str(body.get("message") or "The request failed."),
    )


def backend(request: Request, viewer: Viewer) -> Backend:
    return Backend(request, viewer)
