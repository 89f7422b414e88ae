"""The byte budget that bounds fetched bodies waiting to be parsed and stored."""

from __future__ import annotations

import asyncio

import pytest

from alt.preprocessor.fetcher import ByteBudget
from tests.support.waiting import until


async def queued(budget: ByteBudget, takers: int) -> None:
    """Wait until `takers` tasks wait in the budget's queue."""

    async def count() -> bool:
        return len(budget._waiting) == takers

    await until(count, 5, f"{takers} takers wait for the budget")


async def test_takers_wait_for_room_and_a_body_larger_than_the_budget_takes_it_all() -> None:
    budget = ByteBudget(100)
    assert await budget.take(60) == 60
    waiting = asyncio.create_task(budget.take(50))
    huge = asyncio.create_task(budget.take(10_000))
    await queued(budget, 2)
    assert not waiting.done()
    assert not huge.done()

    budget.give(60)
    assert await waiting == 50
    await queued(budget, 1)  # the huge one still waits: it needs all 100
    assert budget.free == 50
    assert not huge.done()
    budget.give(50)
    assert await huge == 100
    assert budget.free == 0
    budget.give(100)
    assert budget.free == budget.limit


async def test_waiters_are_served_in_order_so_a_large_body_is_not_starved() -> None:
    budget = ByteBudget(100)
    await budget.take(90)
    large = asyncio.create_task(budget.take(80))
    small = asyncio.create_task(budget.take(5))
    await queued(budget, 2)
    assert not small.done()  # 10 bytes are free, but the large body asked first

    budget.give(90)
    assert await large == 80
    assert await small == 5
    assert budget.free == 15


@pytest.mark.parametrize("granted", [False, True])
async def test_a_cancelled_waiter_leaves_no_bytes_behind(granted: bool) -> None:
    budget = ByteBudget(100)
    await budget.take(100)
    cancelled = asyncio.create_task(budget.take(70))
    behind = asyncio.create_task(budget.take(30))
    await queued(budget, 2)
    if granted:
        budget.give(100)  # both are granted; one is cancelled before it runs
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    if not granted:
        budget.give(100)
    assert await behind == 30
    assert budget.free == 70
