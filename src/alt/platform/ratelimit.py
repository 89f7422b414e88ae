"""Denial-of-service guards for a service's routes: token buckets per client address and per
user, and a deadline per request.

Both are pure ASGI middleware (streams stay intact), listed in `ServiceParts.middleware`, so they
run after the service-token check: the caller is a service of this deployment by then.

**Token buckets** (`RateLimit`, `ALT_RATE_*`). Every request takes a token from its client
address's bucket and, when it carries a user token, from its user's bucket; an empty bucket
answers 429 with `Retry-After` (seconds until a token is back) and the error envelope. A bucket
holds `burst` tokens and refills at `per_s` a second. The buckets live in the memory of each
process: with several replicas a client gets up to that many times the limit, and a restart
forgets them. They are kept in a bounded table (`max_keys`, least recently used dropped first;
a dropped bucket comes back full, which is also what a long-idle bucket is).

- The client address is the socket peer, except for alt-frontend's requests: the edge names the
  browser's address in `X-Alt-Client-IP` (it reads `X-Forwarded-For` only from configured
  proxies), and that header is believed from the edge and nobody else. An edge request without
  the header is not limited by address: the peer would be the edge itself, one bucket for every
  user. IPv6 addresses share a bucket per /64 (one host usually owns the whole /64).
- The user is the `sub` of the user token, read without checking the signature: only services
  of this deployment reach this point, and the route itself verifies the token (401 if it is
  not valid). A request without a user token is limited by address only.

**Deadlines** (`Deadline`, `ALT_REQUEST_DEADLINE_*`). A handler that has not started its answer
within `read_s` (GET, HEAD) or `write_s` (other methods) is cancelled and the client gets 503
with the envelope. Once the answer has started the deadline no longer applies, so server-sent
event streams (which start at once) run for as long as they need; `/v1/sse/*` is exempt anyway.
The write deadline stays under the edge's wait for alt-backend (100 s), since subscribing waits
for discovery.

Request body sizes are capped before all this by `BodyLimit` (`ALT_MAX_REQUEST_BYTES`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alt.config import RateLimits, RequestDeadlines
from alt.platform.identity import USER_TOKEN_HEADER
from alt.platform.logging import get_logger
from alt.platform.middleware import OPEN_PATHS, header, send_error

log = get_logger(__name__)

EDGE = "alt-frontend"
CLIENT_IP_HEADER = "X-Alt-Client-IP"
STREAM_PREFIX = "/v1/sse/"
SAFE_METHODS = frozenset({"GET", "HEAD"})
MAX_TOKEN_CHARS = 4096

RATE_LIMITED = Counter(
    "alt_rate_limited_total", "Requests refused by a token bucket.", ["service", "scope"]
)
DEADLINE_EXCEEDED = Counter(
    "alt_request_deadline_exceeded_total", "Requests cancelled at their deadline.", ["service"]
)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets by key, in memory, at most `max_keys` of them."""

    def __init__(
        self,
        per_s: float,
        burst: int,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_s = per_s
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Take a token for `key`: 0.0 if there was one, else the seconds until there is."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_s)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.per_s

    def __len__(self) -> int:
        return len(self._buckets)


def _caller(scope: Scope) -> str | None:
    state: dict[str, Any] = scope.get("state") or {}
    caller = state.get("caller")
    return caller if isinstance(caller, str) else None


def address_key(scope: Scope) -> str | None:
    """The client's address as a bucket key (IPv6 by /64), or None when there is none to use."""
    if _caller(scope) == EDGE:
        candidate = header(scope, CLIENT_IP_HEADER)
    else:
        client = scope.get("client")
        candidate = client[0] if client else None
    if not candidate:
        return None
    try:
        ip = ipaddress.ip_address(candidate.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def user_key(scope: Scope) -> str | None:
    """The `sub` of the request's user token (signature not checked: see the module's text)."""
    token = header(scope, USER_TOKEN_HEADER)
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    sub = claims.get("sub")
    return sub[:64] if isinstance(sub, str) and sub else None


def _retry_after(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))


class RateLimit:
    """429 for a request whose address or user has no token left."""

    def __init__(self, app: ASGIApp, service: str, limits: RateLimits) -> None:
        self.app = app
        self.service = service
        self.by_address = TokenBuckets(limits.ip_per_s, limits.ip_burst, limits.max_keys)
        self.by_user = TokenBuckets(limits.user_per_s, limits.user_burst, limits.max_keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        for scope_name, buckets, key in (
            ("address", self.by_address, address_key(scope)),
            ("user", self.by_user, user_key(scope)),
        ):
            if key is None:
                continue
            wait_s = buckets.take(key)
            if wait_s > 0:
                RATE_LIMITED.labels(self.service, scope_name).inc()
                log.info("rate_limited", scope=scope_name, path=scope["path"][:256])
                await send_error(
                    send,
                    429,
                    "rate_limited",
                    "Too many requests; try again in a moment.",
                    [
                        (b"retry-after", _retry_after(wait_s).encode()),
                        (b"cache-control", b"no-store"),
                    ],
                )
                return
        await self.app(scope, receive, send)


class Deadline:
    """503 for a handler that has not started its answer in time (streams exempt)."""

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        deadlines: RequestDeadlines,
        exempt_prefixes: tuple[str, ...] = (STREAM_PREFIX,),
    ) -> None:
        self.app = app
        self.service = service
        self.deadlines = deadlines
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET")).upper()
        limit = self.deadlines.read_s if method in SAFE_METHODS else self.deadlines.write_s
        started = False
        timer = asyncio.timeout(limit)

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                timer.reschedule(None)
            await send(message)

        try:
            async with timer:
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if not timer.expired() or started:
                raise
            DEADLINE_EXCEEDED.labels(self.service).inc()
            log.warning("request_deadline_exceeded", path=path[:256], limit_s=limit)
            await send_error(
                send,
                503,
                "deadline_exceeded",
                "The request took too long and was stopped; try again later.",
                [(b"retry-after", b"5"), (b"cache-control", b"no-store")],
            )
