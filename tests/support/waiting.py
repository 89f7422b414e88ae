"""Waiting for a condition with a deadline, never for a fixed time: a test goes on as soon as
what it waits for is true, and fails naming it when it does not come true in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.02


def wait_until(condition: Callable[[], T], within_s: float, what: str) -> T:
    """Poll `condition` until it returns something true, and return that."""
    deadline = time.monotonic() + within_s
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s} s: {what}")
        time.sleep(POLL_S)
    return result


async def until(condition: Callable[[], Awaitable[T]], within_s: float, what: str) -> T:
    """Await `condition` until it returns something true, and return that."""
    deadline = time.monotonic() + within_s
    while not (result := await condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s} s: {what}")
        await asyncio.sleep(POLL_S)
    return result
