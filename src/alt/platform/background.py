"""Long-running loops of a service, started and stopped with it, and brought back if they die.

A background loop runs until its service stops. One that ends before that (an exception nobody
expected, or simply returning) is logged and started again after a pause (1 s, 2 s, … 30 s).
Meanwhile the service is not ready: its `/v1/ready` answers 503 and names the loop, so that a
fetcher that died is seen, not hidden behind a service that still answers; it is ready again
once the loop runs again.

Which service a loop belongs to is known from where it was started: the app's lifespan tracks
its `Loops` (`tracking`), and every loop started from there, or from inside one of those loops,
reports to them (a context variable, which asyncio tasks inherit). A loop started anywhere else
(a test, a tool) is restarted just the same, and reported to nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar

import psycopg

from alt.platform.logging import get_logger

log = get_logger(__name__)

RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
# A loop that ran this long before it died has a new problem: its pause starts again from 1 s.
RAN_WELL_S = 300.0

Work = Callable[[], Awaitable[object]]
"""Starts one run of a loop (called again for each restart)."""


class LoopStopped(Exception):
    """Why a loop is not running; readiness shows the message."""


class Loops:
    """The background loops of one service, and why any of them is not running."""

    def __init__(self) -> None:
        self._stopped: dict[str, str | None] = {}

    def running(self, name: str) -> None:
        self._stopped[name] = None

    def stopped(self, name: str, why: str) -> None:
        self._stopped[name] = why

    def ended(self, name: str) -> None:
        """The loop was stopped with its service: nothing to report any more."""
        self._stopped.pop(name, None)

    def names(self) -> list[str]:
        return list(self._stopped)

    def check(self, name: str) -> None:
        """Raise LoopStopped if the loop is not running."""
        why = self._stopped.get(name)
        if why is not None:
            raise LoopStopped(why)


_tracked: ContextVar[Loops | None] = ContextVar("alt_background_loops", default=None)


@contextlib.contextmanager
def tracking(loops: Loops) -> Iterator[None]:
    """Loops started inside this block (and inside those loops) report to `loops`."""
    token = _tracked.set(loops)
    try:
        yield
    finally:
        _tracked.reset(token)


@contextlib.asynccontextmanager
async def in_background(name: str, work: Work) -> AsyncIterator[None]:
    """Run `work()` as a task while the block runs, again whenever it ends on its own; cancel
    it and wait for it at the end."""
    loops = _tracked.get()
    task = asyncio.create_task(_supervised(name, work, loops), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if loops is not None:
            loops.ended(name)


async def _supervised(name: str, work: Work, loops: Loops | None) -> None:
    clock = asyncio.get_running_loop()
    pause = RESTART_FIRST_S
    while True:
        if loops is not None:
            loops.running(name)
        started = clock.time()
        try:
            await work()
            why = "it returned"
        except Exception as exc:
            log.exception("background_loop_failed", loop=name)
            why = type(exc).__name__
        this = asyncio.current_task()
        if this is not None and this.cancelling():
            raise asyncio.CancelledError  # the work took our cancellation for its own stop
        if clock.time() - started > RAN_WELL_S:
            pause = RESTART_FIRST_S
        if loops is not None:
            loops.stopped(name, f"stopped ({why}); restarting in {pause:g} s")
        log.warning("background_loop_restarting", loop=name, stopped=why, in_s=pause)
        await asyncio.sleep(pause)
        pause = min(2 * pause, RESTART_MAX_S)


async def in_rounds(
    name: str,
    run_once: Callable[[], Awaitable[object]],
    wake: asyncio.Event,
    idle_s: Callable[[], Awaitable[float]],
) -> None:
    """Run `run_once` round after round: after each, wait for `wake` or for `idle_s()` seconds.

    A round that fails because the database or the network is away is logged, and the next
    one comes after the usual wait. Any other failure ends the loop (`in_background` restarts
    it and says so).
    """
    while True:
        wake.clear()
        try:
            await run_once()
        except (psycopg.OperationalError, OSError) as exc:
            log.warning(f"{name}_round_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), await idle_s())
