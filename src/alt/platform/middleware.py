"""Pure ASGI middleware shared by every service: request ids, access logs, metrics, body size
limits and service-token checks. Pure ASGI (not BaseHTTPMiddleware) keeps streaming responses
such as server-sent events intact and costs little per request."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alt.platform.errors import envelope
from alt.platform.logging import get_logger
from alt.platform.metrics import (
    HTTP_IN_FLIGHT,
    HTTP_LATENCY,
    HTTP_REQUESTS,
    SERVICE_TOKEN_REJECTED,
)
from alt.platform.service_client import REQUEST_ID_HEADER
from alt.platform.service_tokens import HEADER as TOKEN_HEADER
from alt.platform.service_tokens import ServiceTokenError, ServiceTokens

log = get_logger("alt.access")

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
OPEN_PATHS = frozenset({"/v1/health", "/v1/live", "/v1/ready", "/metrics"})


def header(scope: Scope, name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", ()):
        if key == wanted:
            return str(value.decode("latin-1"))
    return None


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps(envelope(status, code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(extra_headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestContext:
    """Request id in and out, one JSON access-log line and metrics per request."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, REQUEST_ID_HEADER)
        valid = incoming is not None and _VALID_REQUEST_ID.fullmatch(incoming)
        request_id = incoming if valid and incoming else uuid.uuid4().hex
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        HTTP_IN_FLIGHT.labels(self.service).inc()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                HTTP_IN_FLIGHT.labels(self.service).dec()
                elapsed = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", "unmatched")
                HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status)).inc()
                HTTP_LATENCY.labels(self.service, scope["method"], route).observe(elapsed)
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    route=route,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                )


class BodyLimit:
    """Refuse bodies over `max_bytes` with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, "content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            # Past the limit the app is told the client left, and whatever it answers is
            # dropped: the 413 has gone out already (frameworks turn exceptions raised while
            # reading the body into 400s, so raising would not do).
            nonlocal received, started, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        started = True
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, tracking_send)

    async def _refuse(self, send: Send) -> None:
        await send_error(
            send,
            413,
            "payload_too_large",
            f"The request body is larger than {self.max_bytes} bytes.",
        )


class ServiceAuth:
    """Only other services of this deployment, proving it with a token for us, get past here."""

    def __init__(self, app: ASGIApp, tokens: ServiceTokens) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        token = header(scope, TOKEN_HEADER)
        try:
            if token is None:
                raise ServiceTokenError("missing")
            caller = self.tokens.verify(token)
        except ServiceTokenError as exc:
            SERVICE_TOKEN_REJECTED.labels(self.tokens.service).inc()
            log.warning("service_token_rejected", reason=str(exc), path=scope["path"])
            await send_error(
                send,
                401,
                "service_token_required",
                "This service only answers other services of this deployment.",
            )
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["caller"] = caller
        await self.app(scope, receive, send)
