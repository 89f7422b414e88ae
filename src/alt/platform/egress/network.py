"""The connect-time destination check: an httpcore network backend.

httpcore asks its network backend for a TCP stream to `(host, port)` every time it opens a
connection: for the first request, for each redirect hop to a new origin, and whenever a pooled
connection is gone. `GuardedBackend` answers that call by resolving the name once, checking
EVERY address against the deny-list, and connecting to a checked address itself; httpcore then
runs TLS over that stream with the original name for SNI and certificate checks, and sends the
original `Host`. Nothing resolves the name a second time, so DNS rebinding has no window.

Used only for direct connections. With an egress proxy configured the client connects to the
proxy alone (`ProxyBackend`), and the proxy resolves and checks destinations (TESTS.md §2.2 a).
"""

from __future__ import annotations

import asyncio
import socket
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


class ProxyBackend(_TcpOnly):
    """Connects to the egress proxy and nowhere else; a failure there is a "proxy" error."""

    def __init__(self, proxy_host: str, proxy_port: int, inner: httpcore.AsyncNetworkBackend):
        self._host = proxy_host
        self._port = proxy_port
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if (host, port) != (self._host, self._port):
            # httpcore only dials the proxy origin; anything else would be a direct connection.
            raise FetchError("proxy", "refusing a direct connection while a proxy is configured")
        try:
            return await self._inner.connect_tcp(
                host,
                port,
                timeout=timeout,
                local_address=local_address,
                socket_options=socket_options,
            )
        except httpcore.ConnectTimeout:
            raise FetchError(
                "proxy", "the egress proxy did not accept a connection in time", retriable=True
            ) from None
        except httpcore.ConnectError:
            raise FetchError("proxy", "the egress proxy is unreachable", retriable=True) from None
