"""`EgressClient`: the one outbound HTTP client every service uses for the internet.

Built on httpcore, the transport under httpx, used directly: the client owns the one URL parse
(`check_url`), follows redirects itself, decodes bodies itself with bounded decoders, and has no
cookie jar, no credentials, no environment proxies and no `.netrc`, because none of that is code
it contains. The connect-time address check is httpcore's network-backend hook
(`network.GuardedBackend`); with `ALT_EGRESS_PROXY` set, the connection it makes to the checked
address is a tunnel through that proxy (`network.ProxyTunnel`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, get_args
from urllib.parse import unquote, urljoin

import certifi
import httpcore
from prometheus_client import Counter
from pydantic import AnyHttpUrl

from alt import __version__
from alt.platform.egress.decoding import ACCEPT_ENCODING, Chain, DecodeError, codings
from alt.platform.egress.errors import FetchError
from alt.platform.egress.limits import FetchLimits, Kind
from alt.platform.egress.network import (
    DestinationPolicy,
    GuardedBackend,
    ProxyTunnel,
    Resolver,
    SystemResolver,
)
from alt.platform.egress.streams import AsyncioBackend
from alt.platform.egress.urls import ParsedURL, check_url, check_url_text
from alt.platform.logging import get_logger
from alt.platform.retry_after import parse_retry_after

if TYPE_CHECKING:  # alt.config imports the egress limits
    from alt.config import Settings

log = get_logger(__name__)

FETCHES = Counter(
    "alt_egress_fetches_total", "Outbound fetches by kind and outcome.", ["kind", "outcome"]
)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_AFTER_STATUSES = frozenset({429, 503})
MAX_RESPONSE_HEADERS = 1000
MAX_REQUEST_HEADER_VALUE = 1024

ACCEPT: dict[str, str] = {
    "feed": (
        "application/rss+xml, application/atom+xml, application/feed+json,"
        " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
    ),
    "page": "text/html, application/xhtml+xml;q=0.9, */*;q=0.5",
    "icon": "image/avif, image/webp, image/png, image/svg+xml, image/*;q=0.8, */*;q=0.5",
    "image": "image/avif, image/webp, image/*;q=0.8, */*;q=0.5",
}
KINDS: frozenset[str] = frozenset(get_args(Kind))


class Headers(Mapping[str, str]):
    """Response headers: read-only, case-insensitive; repeated fields are joined with ", "."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._items = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
        self._index: dict[str, list[str]] = {}
        for key, value in self._items:
            self._index.setdefault(key.lower(), []).append(value)

    def __getitem__(self, key: str) -> str:
        return ", ".join(self._index[key.lower()])

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    def get_list(self, key: str) -> list[str]:
        """Every value of a repeated field (for Set-Cookie, Link, …)."""
        return list(self._index.get(key.lower(), []))

    def items_raw(self) -> list[tuple[str, str]]:
        """The fields as received, in order, names in their original case."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True)
class FetchResult:
    status: int  # 2xx, or 304 when `not_modified`
    url: str  # the final URL, after redirects
    headers: Headers
    body: bytes  # decoded (after Content-Encoding) and within the kind's cap; empty for 304
    not_modified: bool
    content_type: str | None  # media type, lower case, without parameters
    charset: str | None  # the charset parameter of Content-Type, lower case
    elapsed_s: float
    redirects: list[str] = field(default_factory=list)  # URLs that answered with a redirect
    permanent_redirect: bool = False  # every redirect was 301 or 308 (the feed URL moved)


@dataclass(frozen=True)
class _Redirect:
    status: int
    location: ParsedURL


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    media, *params = value.split(";")
    media = media.strip().lower()
    charset = None
    for param in params:
        key, _, raw = param.partition("=")
        if key.strip().lower() == "charset":
            charset = raw.strip().strip("\"'").lower() or None
    return (media or None), charset


def _header_value(value: str | None) -> bytes | None:
    """A caller-supplied header value, or None when it could not be sent safely."""
    if value is None or len(value) > MAX_REQUEST_HEADER_VALUE:
        return None
    if any(not (0x20 <= ord(c) <= 0x7E) for c in value):
        return None
    return value.strip().encode("ascii") or None


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a network error, wherever httpcore and the streams put it."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLError):
            return item
        todo.extend([item.__cause__, item.__context__, *item.args])
    return None


def _ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _tunnel_through(
    proxy: AnyHttpUrl, ssl_context: ssl.SSLContext, inner: httpcore.AsyncNetworkBackend
) -> ProxyTunnel:
    auth = None
    if proxy.username is not None:
        auth = (unquote(proxy.username), unquote(proxy.password or ""))
    return ProxyTunnel(
        (proxy.host or "").strip("[]"),
        proxy.port or (443 if proxy.scheme == "https" else 80),
        inner,
        auth=auth,
        tls=ssl_context if proxy.scheme == "https" else None,
    )


class _Host:
    """A destination host in use: its concurrency slots and its connections."""

    __slots__ = ("connections", "semaphore", "users")

    def __init__(self, size: int, connections: httpcore.AsyncConnectionPool) -> None:
        self.semaphore = asyncio.Semaphore(size)
        self.connections = connections
        self.users = 0


# Hosts whose connections are kept alive once no fetch uses them. Feeds live on many hosts and
# are fetched once per round, so few idle hosts are worth keeping.
KEEPALIVE_HOSTS = 16


class EgressClient:
    """The outbound HTTP client. Use as `async with EgressClient(settings) as client:`.

    One client is shared by all fetches of a process: it keeps connections alive and enforces
    the per-host and global concurrency limits across them. Each host has a connection pool of
    its own, as small as its concurrency limit: one pool for every host would be scanned whole
    by httpcore on every request and every close, which costs more than the request itself
    when hundreds of fetches are in flight.
    """

    def __init__(
        self,
        settings: Settings,
        limits: FetchLimits | None = None,
        *,
        resolver: Resolver | None = None,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        """`limits` are `settings.fetch` unless given. `resolver` and `network` stand in for the
        internet's DNS and routing in tests; the destination check wraps whatever they return,
        so they cannot widen the policy."""
        self._limits = limits if limits is not None else settings.fetch
        frontend = str(settings.alt_frontend_url).rstrip("/")
        self._user_agent = f"Alt/{__version__} (+{frontend})".encode("ascii", "replace")
        self._ssl = _ssl_context(self._limits.ca_file)
        inner = network if network is not None else AsyncioBackend()
        self._proxied = settings.egress_proxy is not None
        if settings.egress_proxy is not None:
            inner = _tunnel_through(settings.egress_proxy, self._ssl, inner)
        size = self._limits.per_host_concurrency
        self._pool_options: dict[str, Any] = {
            "max_connections": size,
            "max_keepalive_connections": size,
            "network_backend": GuardedBackend(
                DestinationPolicy(self._limits), resolver or SystemResolver(), inner
            ),
        }
        self._global = asyncio.Semaphore(self._limits.global_concurrency)
        self._hosts: dict[str, _Host] = {}
        self._idle: OrderedDict[str, httpcore.AsyncConnectionPool] = OrderedDict()

    def _connections_for(self, host: str) -> httpcore.AsyncConnectionPool:
        idle = self._idle.pop(host, None)
        if idle is not None:
            return idle
        return httpcore.AsyncConnectionPool(
            ssl_context=self._ssl, keepalive_expiry=30.0, **self._pool_options
        )

    async def _release_host(self, host: str, slots: _Host) -> None:
        """The host's last fetch ended: keep its connections for a while, among a few."""
        del self._hosts[host]
        self._idle[host] = slots.connections
        if len(self._idle) > KEEPALIVE_HOSTS:
            _, oldest = self._idle.popitem(last=False)
            await oldest.aclose()

    @property
    def limits(self) -> FetchLimits:
        return self._limits

    @property
    def user_agent(self) -> str:
        return self._user_agent.decode("ascii")

    async def __aenter__(self) -> EgressClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        pools = [host.connections for host in self._hosts.values()] + list(self._idle.values())
        self._idle.clear()
        for pool in pools:
            await pool.aclose()

    async def fetch(
        self,
        url: str,
        *,
        kind: Kind,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """GET `url` and return its decoded body; raise FetchError on any failure.

        Redirects (at most `max_redirects`) are followed here, each target re-checked by
        `check_url` and again when connecting. A 304 answer to the conditional headers comes
        back as `not_modified=True` with an empty body.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown fetch kind {kind!r}")
        started = time.monotonic()
        try:
            result = await self._fetch(url, kind, etag, last_modified, accept, started)
        except FetchError as exc:
            FETCHES.labels(kind, exc.reason).inc()
            log.info("egress.fetch_failed", kind=kind, reason=exc.reason, message=exc.message)
            raise
        FETCHES.labels(kind, "not_modified" if result.not_modified else "ok").inc()
        return result

    def _request_headers(
        self, kind: Kind, etag: str | None, last_modified: str | None, accept: str | None
    ) -> list[tuple[bytes, bytes]]:
        accept_value = _header_value(accept) if accept is not None else None
        if accept is not None and accept_value is None:
            raise ValueError("accept must be printable ASCII of at most 1024 characters")
        headers = [
            (b"User-Agent", self._user_agent),
            (b"Accept", accept_value or ACCEPT[kind].encode("ascii")),
            (b"Accept-Encoding", ACCEPT_ENCODING.encode("ascii")),
        ]
        # Validators come from earlier responses; one that could not be sent safely is dropped.
        if (value := _header_value(etag)) is not None:
            headers.append((b"If-None-Match", value))
        if (value := _header_value(last_modified)) is not None:
            headers.append((b"If-Modified-Since", value))
        return headers

    async def _fetch(
        self,
        url: str,
        kind: Kind,
        etag: str | None,
        last_modified: str | None,
        accept: str | None,
        started: float,
    ) -> FetchResult:
        limits = self._limits
        target = check_url(url, limits=limits)
        headers = self._request_headers(kind, etag, last_modified, accept)
        deadline = limits.deadline_s(kind)
        redirects: list[str] = []
        permanent = True
        waiting: list[str] = []  # the host whose slot we wait for, while we wait
        try:
            async with asyncio.timeout(deadline) as scope:
                for _ in range(limits.max_redirects + 1):
                    async with self._slot(target.host, scope, waiting) as connections:
                        waiting.clear()  # from here on, the time is the destination's
                        try:
                            outcome = await self._request(connections, target, headers, kind)
                        except FetchError as exc:
                            if redirects:
                                exc.message = f"{exc.message} (redirected from {redirects[-1]})"
                                exc.args = (exc.message,)
                            raise
                    if isinstance(outcome, _Redirect):
                        redirects.append(target.url)
                        permanent = permanent and outcome.status in (301, 308)
                        target = outcome.location
                        continue
                    return FetchResult(
                        status=outcome.status,
                        url=target.url,
                        headers=outcome.headers,
                        body=outcome.body,
                        not_modified=outcome.status == 304,
                        content_type=outcome.content_type,
                        charset=outcome.charset,
                        elapsed_s=time.monotonic() - started,
                        redirects=redirects,
                        permanent_redirect=bool(redirects) and permanent,
                    )
        except TimeoutError:
            if waiting:
                message = (
                    f"no free connection slot for {waiting[0]} within {deadline:g} s"
                    f" ({limits.per_host_concurrency} fetches to it were already running)"
                )
            else:
                message = f"the fetch took longer than its {deadline:g} s deadline"
            raise FetchError("timeout", message, retriable=True) from None
        raise FetchError(
            "too_many_redirects",
            f"more than {limits.max_redirects} redirects (last: {redirects[-1]})"[:300],
        )

    @contextlib.asynccontextmanager
    async def _slot(
        self, host: str, scope: asyncio.Timeout, waiting: list[str]
    ) -> AsyncIterator[httpcore.AsyncConnectionPool]:
        """Hold one of the host's slots, then one of the global ones; give the host's pool.

        The host slot is taken first, so fetches queued behind a slow host never hold global
        slots. Waiting for a host slot counts towards the fetch's deadline; waiting for a global
        slot does not (the clock is paused), since that is the process being busy, not the
        destination being slow.
        """
        slots = self._hosts.get(host)
        if slots is None:
            slots = _Host(self._limits.per_host_concurrency, self._connections_for(host))
            self._hosts[host] = slots
        slots.users += 1
        try:
            waiting.append(host)
            await slots.semaphore.acquire()
            try:
                loop = asyncio.get_running_loop()
                when = scope.when()
                paused_at = loop.time()
                scope.reschedule(None)
                try:
                    await self._global.acquire()
                finally:
                    if when is not None:
                        scope.reschedule(when + (loop.time() - paused_at))
                try:
                    yield slots.connections
                finally:
                    self._global.release()
            finally:
                slots.semaphore.release()
        finally:
            slots.users -= 1
            if slots.users == 0:
                await self._release_host(host, slots)

    async def _request(
        self,
        connections: httpcore.AsyncConnectionPool,
        target: ParsedURL,
        headers: list[tuple[bytes, bytes]],
        kind: Kind,
    ) -> _Redirect | _Final:
        limits = self._limits
        url = httpcore.URL(
            scheme=target.scheme.encode("ascii"),
            host=target.host.encode("ascii"),
            port=target.port,
            target=target.target.encode("ascii"),
        )
        extensions = {
            "timeout": {
                "connect": limits.connect_timeout_s,
                "read": limits.read_timeout_s,
                "write": limits.read_timeout_s,
                "pool": limits.deadline_s(kind),
            }
        }
        request_headers = [(b"Host", target.host_header.encode("ascii")), *headers]
        try:
            async with connections.stream(
                "GET", url, headers=request_headers, extensions=extensions
            ) as response:
                if len(response.headers) > MAX_RESPONSE_HEADERS:
                    raise FetchError(
                        "too_large",
                        f"{target.host} sent more than {MAX_RESPONSE_HEADERS} response headers",
                    )
                received = Headers(response.headers)
                status = response.status
                if status in REDIRECT_STATUSES and "location" in received:
                    # The redirect's body is never read, let alone decoded.
                    return _Redirect(status, self._redirect_target(target, received))
                if status == 304:
                    return _Final.of(status, received, b"")
                if not 200 <= status < 300:
                    raise self._status_error(target, status, received)
                body = await self._read_body(target, response, received, limits.max_bytes(kind))
                return _Final.of(status, received, body)
        except FetchError:
            raise
        except httpcore.TimeoutException as exc:
            raise self._timeout_error(target, exc) from None
        except httpcore.ProxyError as exc:
            raise self._proxy_error(target, exc) from None
        except httpcore.NetworkError as exc:
            raise self._network_error(target, exc) from None
        except httpcore.RemoteProtocolError as exc:
            log.info("egress.protocol_error", host=target.host, error=str(exc)[:200])
            if "too long" in str(exc).lower() or "too large" in str(exc).lower():
                raise FetchError(
                    "too_large", f"{target.host} sent response headers that are too large"
                ) from None
            raise FetchError("connect", f"{target.host} did not answer with valid HTTP") from None
        except httpcore.LocalProtocolError as exc:
            log.warning("egress.local_protocol_error", host=target.host, error=str(exc)[:200])
            raise FetchError("invalid_url", "the request could not be formed") from None

    def _redirect_target(self, current: ParsedURL, received: Headers) -> ParsedURL:
        values = received.get_list("location")
        if len(set(values)) != 1:
            raise FetchError(
                "invalid_url", f"{current.host} sent several different Location headers"
            )
        raw = values[0]
        try:
            text = raw.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise FetchError("invalid_url", "the redirect target is not valid UTF-8") from None
        try:
            check_url_text(text, self._limits)
            return check_url(urljoin(current.url, text.strip()), limits=self._limits)
        except FetchError as exc:
            raise FetchError(
                exc.reason, f"{current.host} redirected to a URL that is refused: {exc.message}"
            ) from None

    def _status_error(self, target: ParsedURL, status: int, received: Headers) -> FetchError:
        try:
            phrase = f" {HTTPStatus(status).phrase}"
        except ValueError:
            phrase = ""
        retry_after = None
        if status in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(
                received.get("retry-after"), self._limits.retry_after_cap_s
            )
        retriable = status >= 500 or status in (408, 425, 429)
        if 300 <= status < 400:
            message = f"{target.host} answered HTTP {status}{phrase} without a usable Location"
        else:
            message = f"{target.host} answered HTTP {status}{phrase}"
        return FetchError(
            "http_status", message, retry_after_s=retry_after, retriable=retriable, status=status
        )

    async def _read_body(
        self,
        target: ParsedURL,
        response: httpcore.Response,
        received: Headers,
        cap: int,
    ) -> bytes:
        applied = codings(received.get_list("content-encoding"), self._limits.max_encodings)
        declared = received.get("content-length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > cap:
            raise FetchError(
                "too_large", f"{target.host} announced {int(declared)} bytes; the cap is {cap}"
            )
        too_large = FetchError("too_large", f"the body from {target.host} is over {cap} bytes")
        chain = Chain(applied)
        body = bytearray()
        read = 0
        try:
            async for chunk in response.aiter_stream():
                read += len(chunk)
                if read > cap:
                    raise too_large
                for piece in chain.decode(chunk):
                    if len(body) + len(piece) > cap:
                        raise too_large
                    body += piece
            for piece in chain.flush():
                if len(body) + len(piece) > cap:
                    raise too_large
                body += piece
        except DecodeError as exc:
            raise FetchError(
                "bad_encoding", f"the body from {target.host} does not decode: {exc}"
            ) from None
        return bytes(body)

    def _timeout_error(self, target: ParsedURL, exc: httpcore.TimeoutException) -> FetchError:
        limits = self._limits
        if isinstance(exc, httpcore.ConnectTimeout):
            message = f"connecting to {target.host} timed out after {limits.connect_timeout_s:g} s"
        elif isinstance(exc, httpcore.ReadTimeout):
            message = f"{target.host} sent nothing for {limits.read_timeout_s:g} s"
        elif isinstance(exc, httpcore.WriteTimeout):
            message = f"sending the request to {target.host} timed out"
        else:
            message = "no connection became free in time"
        return FetchError("timeout", message, retriable=True)

    def _network_error(self, target: ParsedURL, exc: httpcore.NetworkError) -> FetchError:
        cause = _ssl_error(exc)
        log.info("egress.network_error", host=target.host, error=repr(exc)[:300])
        if isinstance(cause, ssl.SSLCertVerificationError):
            return FetchError(
                "connect", f"the TLS certificate of {target.host} is not valid", retriable=True
            )
        if isinstance(cause, ssl.SSLError):
            return FetchError(
                "connect", f"the TLS handshake with {target.host} failed", retriable=True
            )
        if isinstance(exc, httpcore.ConnectError):
            if self._proxied:
                return FetchError(
                    "connect",
                    f"could not reach {target.host} through the egress proxy",
                    retriable=True,
                )
            return FetchError("connect", f"could not connect to {target.host}", retriable=True)
        return FetchError("connect", f"the connection to {target.host} was lost", retriable=True)

    def _proxy_error(self, target: ParsedURL, exc: httpcore.ProxyError) -> FetchError:
        text = str(exc)
        status = int(text[:3]) if text[:3].isdigit() else None
        log.info("egress.proxy_refused", host=target.host, status=status)
        if status == 403:
            return FetchError(
                "blocked", f"the egress proxy refused to connect to {target.host}", status=status
            )
        if status in (401, 407):  # 407 by the standard; tinyproxy answers with 401
            return FetchError(
                "proxy", "the egress proxy refused our credentials", retriable=True, status=status
            )
        return FetchError(
            "connect",
            f"the egress proxy could not reach {target.host}"
            + (f" (HTTP {status})" if status else ""),
            retriable=True,
            status=status,
        )


@dataclass(frozen=True)
class _Final:
    status: int
    headers: Headers
    body: bytes
    content_type: str | None
    charset: str | None

    @classmethod
    def of(cls, status: int, headers: Headers, body: bytes) -> _Final:
        content_type, charset = parse_content_type(headers.get("content-type"))
        return cls(status, headers, body, content_type, charset)
