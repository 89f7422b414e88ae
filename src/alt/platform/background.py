"""Long-running loops of a service, started and stopped with it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import psycopg

from alt.platform.logging import get_logger

log = get_logger(__name__)


@contextlib.asynccontextmanager
async def in_background(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run `work` as a task while the block runs; cancel it and wait for it at the end."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def in_rounds(
    name: str,
    run_once: Callable[[], Awaitable[object]],
    wake: asyncio.Event,
    idle_s: Callable[[], Awaitable[float]],
) -> None:
    """Run `run_once` round after round: after each, wait for `wake` or for `idle_s()` seconds.

    A round that fails because the database or the network is away is logged, and the next
    one comes after the usual wait.
    """
    while True:
        wake.clear()
        try:
            await run_once()
        except (psycopg.OperationalError, OSError) as exc:
            log.warning(f"{name}_round_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), await idle_s())
