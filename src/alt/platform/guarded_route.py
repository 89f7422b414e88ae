"""HTTP pieces shared by auth-service and the edge (alt-frontend): security headers on every
response of their routes, and the probe tripwire that runs before each of their handlers.

Both are in a route class rather than middleware, because the common app factory owns the
middleware stack; errors raised by a handler are answered here by the app's own handlers so that
they get the headers too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from alt.platform.errors import answer_error, error_response
from alt.platform.probes import find_probe

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
ProbeHook = Callable[[Request, str], Awaitable[None]]
HeaderHook = Callable[[Request], dict[str, str]]

API_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

_JSON_TYPES = ("application/json",)


async def json_body(request: Request) -> Any:
    """The request's JSON body for inspection, or None (not JSON, or not parseable)."""
    if not request.headers.get("content-type", "").startswith(_JSON_TYPES):
        return None
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


async def probe_in(request: Request) -> str | None:
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    return find_probe(
        raw_path,
        request.query_params.multi_items(),
        request.headers.get("user-agent"),
        await json_body(request),
    )


def guarded_route(on_probe: ProbeHook, headers: HeaderHook) -> type[APIRoute]:
    """A route class that refuses probes (403, reported to `on_probe`) and adds `headers`."""

    class GuardedRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handle = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                response = await _guarded_call(handle, request, on_probe)
                for name, value in headers(request).items():
                    response.headers.setdefault(name, value)
                return response

            return guarded

    return GuardedRoute


async def _guarded_call(handle: Handler, request: Request, on_probe: ProbeHook) -> Response:
    reason = await probe_in(request)
    if reason is not None:
        await on_probe(request, reason)
        return error_response(403, "forbidden", "This request is not allowed.")
    try:
        return await handle(request)
    except Exception as exc:
        return await answer_error(request, exc)
