"""The asyncio streams under httpcore: timeouts and failures arrive as httpcore's errors, and an
idle connection the server has closed is seen as such before a request is sent down it."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import AsyncIterator

import httpcore
import pytest

from alt.platform.egress.streams import AsyncioBackend
from tests.egress.support import CertAuthority
from tests.helpers import free_port
from tests.support.waiting import until

Accepted = list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, Accepted]]:
    accepted: Accepted = []

    async def keep(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append((reader, writer))

    listener = await asyncio.start_server(keep, "127.0.0.1", 0)
    yield listener.sockets[0].getsockname()[1], accepted
    listener.close()


async def test_an_idle_connection_closed_by_the_server_is_readable(
    server: tuple[int, Accepted],
) -> None:
    port, accepted = server
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    await stream.write(b"ping", timeout=5)

    async def was_accepted() -> bool:
        return len(accepted) == 1

    async def readable() -> bool:
        return stream.get_extra_info("is_readable") is True

    await until(was_accepted, 5, "the server accepts the connection")
    reader, writer = accepted[0]
    assert await reader.readexactly(4) == b"ping"  # read, so closing sends FIN, not RST
    assert stream.get_extra_info("is_readable") is False
    assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)

    writer.close()
    await until(readable, 5, "the server's close makes the connection readable")
    assert await stream.read(100, timeout=5) == b""
    await stream.aclose()


async def test_a_silent_server_is_a_read_timeout(
    server: tuple[int, Accepted],
) -> None:
    port, _ = server
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    with pytest.raises(httpcore.ReadTimeout):
        await stream.read(100, timeout=0.05)
    await stream.aclose()


async def test_nobody_listening_is_a_connect_error() -> None:
    with pytest.raises(httpcore.ConnectError):
        await AsyncioBackend().connect_tcp("127.0.0.1", free_port(), timeout=5)


async def test_a_silent_tls_handshake_is_a_connect_timeout(
    server: tuple[int, Accepted],
) -> None:
    port, _ = server
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    with pytest.raises(httpcore.ConnectTimeout):  # the server never answers the ClientHello
        await stream.start_tls(ssl.create_default_context(), "x.test", timeout=0.1)


async def test_a_tls_handshake_answered_in_plain_text_is_a_connect_error() -> None:
    async def plain(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()

    listener = await asyncio.start_server(plain, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    with pytest.raises(httpcore.ConnectError):
        await stream.start_tls(ssl.create_default_context(), "x.test", timeout=5)
    listener.close()


async def test_closing_a_tls_connection_does_not_wait_for_a_silent_peer(ca: CertAuthority) -> None:
    """A peer that never answers close_notify would hold the descriptor for the SSL shutdown
    timeout (30 s) if closing waited for it."""
    context = ca.server_context(["localhost"])
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    done = threading.Event()

    def serve_then_stay_silent() -> None:
        conn, _ = listener.accept()
        with context.wrap_socket(conn, server_side=True):
            done.wait(10)  # handshake done; never reads again

    server = threading.Thread(target=serve_then_stay_silent)
    server.start()
    try:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        client_context = ssl.create_default_context(cafile=str(ca.ca_file))
        await stream.start_tls(client_context, "localhost", timeout=5)
        sock = stream.get_extra_info("socket")
        await stream.aclose()

        async def closed() -> bool:
            return bool(sock.fileno() == -1)

        # Well within the 30 s that waiting for the peer's close_notify would take.
        await until(closed, 5, "the socket is closed")
    finally:
        done.set()
        server.join()
        listener.close()
