"""The connect-time destination check: an httpcore network backend.

httpcore asks its network backend for a TCP stream to `(host, port)` every time it opens a
connection: for the first request, for each redirect hop to a new origin, and whenever a pooled
connection is gone. `GuardedBackend` answers that call by resolving the name once, checking
EVERY address against the deny-list, and connecting to a checked address itself; httpcore then
runs TLS over that stream with the original name for SNI and certificate checks, and sends the
original `Host`. Nothing resolves the name a second time, so DNS rebinding has no window.

With an egress proxy configured the check is the same, and the connection to the checked address
is a tunnel through the proxy (`ProxyTunnel`): the proxy is asked for the address, not the name,
and it refuses internal ranges itself too (deploy/egress, docs/SECURITY.md SSRF-08).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import Iterable
from ipaddress import ip_address
from typing import Protocol

import httpcore

from alt.platform.egress.addresses import IPAddress, denied_reason
from alt.platform.egress.errors import FetchError
from alt.platform.egress.limits import FetchLimits
from alt.platform.egress.urls import is_local_name
from alt.platform.logging import get_logger

log = get_logger(__name__)

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class Resolver(Protocol):
    """Turns a host name into its addresses. Tests substitute a stub for the internet's DNS."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]: ...


class SystemResolver:
    """The C library's resolver (getaddrinfo in a thread), as every other client uses it."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        found: list[IPAddress] = []
        for family, _, _, _, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = ip_address(sockaddr[0])
            if address not in found:
                found.append(address)
        return found


class DestinationPolicy:
    """May the client open a TCP connection to `address:port` for the URL host `host`?"""

    def __init__(self, limits: FetchLimits) -> None:
        self._limits = limits

    def refusal(self, host: str, port: int, address: IPAddress) -> str | None:
        """Why not, or None. An allowlisted `host:port` or `address:port` is always allowed."""
        allow = self._limits.private_allowlist
        if (host, port) in allow or (str(address), port) in allow:
            return None
        if port not in self._limits.allowed_ports:
            return f"port {port} is not allowed"
        if is_local_name(host):
            return "localhost is this machine"
        return denied_reason(address, nat64=self._limits.nat64)


class _TcpOnly(httpcore.AsyncNetworkBackend):
    """What both backends share: TCP through `_inner`, never a unix socket."""

    _inner: httpcore.AsyncNetworkBackend

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise FetchError("blocked", "unix sockets cannot be fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedBackend(_TcpOnly):
    """Resolve once, check every answer, connect to a checked address."""

    def __init__(
        self,
        policy: DestinationPolicy,
        resolver: Resolver,
        inner: httpcore.AsyncNetworkBackend,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = inner

    async def _addresses(self, host: str, port: int, limit_s: float | None) -> list[IPAddress]:
        try:
            return [ip_address(host)]
        except ValueError:
            pass
        try:
            async with asyncio.timeout(limit_s):
                addresses = await self._resolver.resolve(host, port)
        except TimeoutError:
            raise FetchError("dns", f"resolving {host} timed out", retriable=True) from None
        except (OSError, UnicodeError) as exc:
            log.info("egress.dns_failed", host=host, error=str(exc))
            raise FetchError("dns", f"{host} could not be resolved", retriable=True) from None
        if not addresses:
            raise FetchError("dns", f"{host} has no address", retriable=True)
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._addresses(host, port, timeout)
        refused = [
            (address, why)
            for address in addresses
            if (why := self._policy.refusal(host, port, address)) is not None
        ]
        if refused:
            # The log is for the operator; the message, which users may see, names no address.
            log.warning(
                "egress.blocked_at_connect",
                host=host,
                port=port,
                addresses=[str(a) for a in addresses],
                refused={str(a): why for a, why in refused},
            )
            raise FetchError(
                "blocked",
                f"{host} resolves to an address that may not be fetched"
                " (private, loopback, link-local or otherwise reserved)",
            )
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure


class ProxyTunnel(_TcpOnly):
    """Under `GuardedBackend` when an egress proxy is configured: each connection the guard makes
    to a checked address is a CONNECT tunnel through the proxy to that address, and the proxy is
    the only host this backend ever dials.

    The proxy is given the address, never the name, so it cannot resolve the name differently
    (or at all): a proxy that refuses every name and every internal range is then enough
    (deploy/egress). Plain http goes through a tunnel too: a proxy forwarding an absolute-form
    request writes its own Host header from the URL (tinyproxy does), which would then name the
    address instead of the site. Inside the tunnel httpcore speaks to the site as it would
    directly: TLS with the host name for SNI and certificate checks, and the site's Host header.
    """

    def __init__(
        self,
        proxy_host: str,
        proxy_port: int,
        inner: httpcore.AsyncNetworkBackend,
        *,
        auth: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._host = proxy_host
        self._port = proxy_port
        self._inner = inner
        self._tls = tls  # for an https:// proxy
        self._authorization = None
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode())
            self._authorization = b"Proxy-Authorization: Basic " + token + b"\r\n"

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            address = ip_address(host)
        except ValueError:
            raise FetchError("proxy", "the proxy is only asked for checked addresses") from None
        stream = await self._dial_proxy(timeout, local_address, socket_options)
        try:
            await self._open_tunnel(stream, address, port, timeout)
        except BaseException:
            await stream.aclose()
            raise
        return stream

    async def _dial_proxy(
        self,
        limit_s: float | None,
        local_address: str | None,
        socket_options: Iterable[SocketOption] | None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            stream = await self._inner.connect_tcp(
                self._host,
                self._port,
                timeout=limit_s,
                local_address=local_address,
                socket_options=socket_options,
            )
            if self._tls is not None:
                stream = await stream.start_tls(self._tls, self._host, limit_s)
        except httpcore.ConnectTimeout:
            raise FetchError(
                "proxy", "the egress proxy did not accept a connection in time", retriable=True
            ) from None
        except httpcore.ConnectError:
            raise FetchError("proxy", "the egress proxy is unreachable", retriable=True) from None
        return stream

    async def _open_tunnel(
        self,
        stream: httpcore.AsyncNetworkStream,
        address: IPAddress,
        port: int,
        limit_s: float | None,
    ) -> None:
        """CONNECT to `address:port`. A refusal (401, 403, 407) is the proxy's answer to
        every address, so it ends the fetch (ProxyError); any other failure is this address's,
        and the guard goes on to the next one (ConnectError)."""
        authority = f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
        request = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n".encode("ascii")
        await stream.write(request + (self._authorization or b"") + b"\r\n", limit_s)
        status, reason = await _read_answer(stream, limit_s)
        if 200 <= status < 300:
            return
        if status in (401, 403, 407):
            raise httpcore.ProxyError(f"{status} {reason}")
        raise httpcore.ConnectError(f"the egress proxy answered {status} {reason}")


MAX_PROXY_ANSWER = 16 * 1024


async def _read_answer(
    stream: httpcore.AsyncNetworkStream, limit_s: float | None
) -> tuple[int, str]:
    """The status of the proxy's answer to CONNECT, its head read a byte at a time: the bytes
    after it are the destination's and stay in the connection for httpcore to read."""
    head = bytearray()
    try:
        async with asyncio.timeout(limit_s):
            while not head.endswith(b"\r\n\r\n"):
                byte = await stream.read(1)
                if not byte or len(head) >= MAX_PROXY_ANSWER:
                    break
                head += byte
    except TimeoutError:
        raise httpcore.ConnectTimeout("the egress proxy did not answer CONNECT in time") from None
    version, _, rest = bytes(head).partition(b"\r\n")[0].decode("latin-1").partition(" ")
    code, _, reason = rest.partition(" ")
    if (
        not head.endswith(b"\r\n\r\n")
        or not version.startswith("HTTP/")
        or not (code.isascii() and code.isdigit() and len(code) == 3)
    ):
        raise FetchError("proxy", "the egress proxy did not answer CONNECT", retriable=True)
    return int(code), reason.strip()
