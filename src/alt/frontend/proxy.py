"""The edge's API: `/api/auth/*` goes to auth-service, `/api/v1/*` to alt-backend.

`/api/auth/user…` maps to auth-service's `/v1/user…`, any other `/api/auth/X` to
`/v1/auth/X`; auth-service's internal routes (validate, keys, events) are not reachable. For
`/api/v1/*` the edge asks auth-service to validate the session cookie (and, for a state-changing
request, the CSRF token), then calls alt-backend with the short-lived user token it got back;
alt-backend's `/v1/internal/*` routes are not reachable. An event stream (`/api/v1/sse/*`) is
relayed only while its session lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from alt.frontend.edge import (
    call_auth,
    clear_cookie,
    client_ip,
    edge_of,
    relay,
    validate_session,
)
from alt.platform.auth_wire import CLIENT_IP_HEADER, CSRF_HEADER, SAFE_METHODS
from alt.platform.errors import AltError, error_response
from alt.platform.identity import USER_TOKEN_HEADER
from alt.platform.logging import get_logger
from alt.platform.service_client import ServiceClient

log = get_logger(__name__)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
INTERNAL_AUTH = frozenset({"validate", "keys", "events"})
BACKEND = "alt-backend"
_SEGMENTS = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")

BACKEND_TIMEOUT_S = 100.0
STREAM_PREFIX = "/v1/sse/"
# A stream is quiet between events and heartbeats, never for this long.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=60.0)
_FORWARDED = frozenset({"content-type", "accept", "last-event-id"})
_RELAYED = frozenset(
    {
        "content-type",
        "content-disposition",
        "cache-control",
        "retry-after",
        "etag",
        "content-security-policy",  # the image proxy's `default-src 'none'; sandbox`
    }
)


def _clean(rest: str) -> str:
    if not _SEGMENTS.fullmatch(rest) or any(part in {".", ".."} for part in rest.split("/")):
        raise AltError(404, "not_found", "Not found.")
    return rest


def auth_path(rest: str) -> str:
    rest = _clean(rest)
    first = rest.split("/", 1)[0]
    if first == "user":
        return f"/v1/{rest}"
    if first in INTERNAL_AUTH:
        raise AltError(404, "not_found", "Not found.")
    return f"/v1/auth/{rest}"


def backend_path(rest: str) -> str:
    rest = _clean(rest)
    if rest.split("/", 1)[0] == "internal":
        raise AltError(404, "not_found", "Not found.")
    return f"/v1/{rest}"


def _passthrough(request: Request) -> dict[str, Any]:
    return {"params": list(request.query_params.multi_items())}


async def user_token(request: Request) -> str:
    """Validate the session cookie with auth-service; the user token for alt-backend."""
    unsafe = request.method.upper() not in SAFE_METHODS
    answer = await validate_session(request, unsafe=unsafe, csrf=request.headers.get(CSRF_HEADER))
    token: str = answer["token"]
    return token


def router(route_class: type[Any], dependencies: Sequence[Any] = ()) -> APIRouter:
    r = APIRouter(route_class=route_class, tags=["edge"], dependencies=list(dependencies))

    @r.api_route("/api/auth/{rest:path}", methods=METHODS)
    async def to_auth(rest: str, request: Request) -> Response:
        upstream = await call_auth(
            request,
            request.method,
            auth_path(rest),
            content=await request.body(),
            **_passthrough(request),
        )
        return relay(upstream, edge_of(request))

    @r.api_route("/api/v1/{rest:path}", methods=METHODS)
    async def to_backend(rest: str, request: Request) -> Response:
        path = backend_path(rest)
        try:
            token = await user_token(request)
        except AltError as exc:
            response = error_response(exc.status, exc.code, exc.message)
            if exc.status == 401:
                clear_cookie(response, edge_of(request).session_cookie, edge_of(request))
            return response
        # The browser's address, for alt-backend's per-address rate limits.
        headers = {USER_TOKEN_HEADER: token, CLIENT_IP_HEADER: client_ip(request, edge_of(request))}
        headers |= {k: v for k, v in request.headers.items() if k in _FORWARDED}
        services = request.app.state.ctx.services
        if path.startswith(STREAM_PREFIX):
            return await _relay_stream(request, path, headers)
        upstream: httpx.Response = await services.request(
            BACKEND,
            request.method,
            path,
            headers=headers,
            content=await request.body(),
            # Subscribing waits for the feed's discovery: up to a feed fetch and a few pages.
            timeout=BACKEND_TIMEOUT_S,
            **_passthrough(request),
        )
        kept = {k: v for k, v in upstream.headers.items() if k in _RELAYED}
        return Response(upstream.content, status_code=upstream.status_code, headers=kept)

    return r


async def _relay_stream(request: Request, path: str, headers: dict[str, str]) -> Response:
    """Server-sent events pass through as they come (a buffered relay would hold them all), for
    as long as auth-service vouches for the browser's session: asked every
    `stream_session_check_s`, so a logout or a revocation ends the stream within seconds."""
    services: ServiceClient = request.app.state.ctx.services
    upstream = await services.open_stream(
        BACKEND, "GET", path, headers=headers, timeout=STREAM_TIMEOUT
    )
    kept = {k: v for k, v in upstream.headers.items() if k in _RELAYED}
    every_s = edge_of(request).cfg.stream_session_check_s

    async def body() -> AsyncIterator[bytes]:
        session_gone = asyncio.create_task(_session_gone(request, every_s))
        try:
            async with contextlib.aclosing(_until(upstream.aiter_raw(), session_gone)) as chunks:
                async for chunk in chunks:
                    yield chunk
        finally:
            session_gone.cancel()
            await upstream.aclose()

    return StreamingResponse(body(), status_code=upstream.status_code, headers=kept)


async def _session_gone(request: Request, every_s: float) -> None:
    """Returns once auth-service no longer vouches for the session of `request`."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await user_token(request)
        except Exception as exc:  # revoked or expired; or unknown, which must not keep it open
            log.info("stream_session_gone", reason=getattr(exc, "code", type(exc).__name__))
            return


async def _until(
    chunks: AsyncIterator[bytes], stop: asyncio.Task[None]
) -> AsyncGenerator[bytes, None]:
    """The chunks, until they end or `stop` is done, whichever comes first."""
    while True:
        step = asyncio.ensure_future(anext(chunks))
        try:
            await asyncio.wait((step, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not step.done():  # `stop` came first, or the relay itself is being cancelled
                await _abandon(step)
        if step.cancelled() or isinstance(step.exception(), StopAsyncIteration):
            return
        yield step.result()


async def _abandon(task: asyncio.Future[bytes]) -> None:
    """Cancel `task` and let it unwind (before its stream is closed); its outcome is dropped."""
    task.cancel()
    await asyncio.wait((task,))
    if not task.cancelled():
        task.exception()  # looked at, so that asyncio does not report it as lost
