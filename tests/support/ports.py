"""Loopback ports for the servers the tests and the benchmarks start."""

from __future__ import annotations

import contextlib
import socket


def free_port() -> int:
    """A port nothing listens on now: the kernel's pick, so never one of its own ephemeral
    ports already in use (a random pick could be, and the server would fail to bind)."""
    [port] = free_ports(1)
    return port


def free_ports(count: int) -> list[int]:
    """`count` different free ports. Each is held until all are picked: a port let go is the
    kernel's to give again, and two picks one after the other can be the same port."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports
