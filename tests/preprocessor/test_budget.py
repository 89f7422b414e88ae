"""The byte budget that bounds fetched bodies waiting to be parsed and stored."""

from __future__ import annotations

import asyncio

from alt.preprocessor.fetcher import ByteBudget


async def test_takers_wait_for_room_and_a_body_larger_than_the_budget_takes_it_all() -> None:
    budget = ByteBudget(100)
    assert await budget.take(60) == 60
    waiting = asyncio.create_task(budget.take(50))
    huge = asyncio.create_task(budget.take(10_000))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    assert not huge.done()

    await budget.give(60)
    assert await waiting == 50
    await asyncio.sleep(0.01)
    assert not huge.done()  # it needs all 100
    await budget.give(50)
    assert await huge == 100
    assert budget.free == 0
    await budget.give(100)
    assert budget.free == budget.limit
