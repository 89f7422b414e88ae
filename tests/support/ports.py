"""Loopback ports for the servers the tests and the benchmarks start."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now: the kernel's pick, so never one of its own ephemeral
    ports already in use (a random pick could be, and the server would fail to bind)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
