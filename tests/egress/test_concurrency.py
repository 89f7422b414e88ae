"""S19 and the concurrency limits inside one client: a stalled host holds at most its own
slots, healthy hosts finish on time, and the global limit bounds everything."""

from __future__ import annotations

import asyncio

import pytest

from alt.platform.egress import EgressClient, FetchError, FetchResult
from tests.egress.conftest import MakeClient, fast_limits
from tests.egress.support import CertAuthority, Origin
from tests.support.waiting import until


async def _outcome(coro: asyncio.Future[FetchResult] | object) -> object:
    try:
        outcome: object = await coro  # type: ignore[misc]
    except FetchError as exc:
        outcome = exc
    return outcome


async def _fetching(client: EgressClient, origin: Origin, host: str, fetches: int) -> None:
    """Wait until `fetches` fetches to `host` are under way: running at the origin, or queued
    for one of the host's slots."""

    async def under_way() -> bool:
        slots = client._hosts.get(host)
        running = min(fetches, client.limits.per_host_concurrency)
        return slots is not None and slots.users == fetches and origin.active[host] == running

    await until(under_way, 10, f"{fetches} fetches to {host} are under way")


# PAR-03: a stalling host holds only its own slots; other hosts go on.
async def test_s19_stalled_host_does_not_stall_the_others(
    make_client: MakeClient, origin: Origin, ca: CertAuthority
) -> None:
    client = make_client(
        fast_limits(
            ca.ca_file,
            read_timeout_s=60.0,
            deadline_page_s=60.0,
            deadline_feed_s=3.0,
            per_host_concurrency=2,
            global_concurrency=8,
        )
    )
    per_host = client.limits.per_host_concurrency
    stall = "http://stalled.example/stall"
    # Two page fetches take the host's slots and hold them until they are cancelled; the
    # feed fetches queued behind them time out waiting.
    holding = [asyncio.create_task(client.fetch(stall, kind="page")) for _ in range(per_host)]
    await _fetching(client, origin, "stalled.example", per_host)
    queued = [asyncio.create_task(_outcome(client.fetch(stall, kind="feed"))) for _ in range(18)]
    await _fetching(client, origin, "stalled.example", per_host + 18)
    healthy = [
        asyncio.create_task(
            _outcome(client.fetch(f"http://h{i}.example/slow-ok?delay=0.05", kind="feed"))
        )
        for i in range(40)
    ]
    healthy_results = await asyncio.gather(*healthy)
    assert all(isinstance(outcome, FetchResult) for outcome in healthy_results)
    # Every healthy fetch finished before the queued ones' deadline ended any of them.
    assert not any(task.done() for task in queued)

    queued_results = await asyncio.gather(*queued)
    for outcome in queued_results:
        assert isinstance(outcome, FetchError)
        assert outcome.reason == "timeout"
        assert "no free connection slot for stalled.example" in outcome.message
    for task in holding:
        task.cancel()
    await asyncio.gather(*holding, return_exceptions=True)
    assert origin.max_active["stalled.example"] == per_host
    assert len([r for r in origin.requests if r.host == "stalled.example"]) == per_host


async def test_global_limit_bounds_all_hosts(
    make_client: MakeClient, origin: Origin, ca: CertAuthority
) -> None:
    client = make_client(fast_limits(ca.ca_file, global_concurrency=3, per_host_concurrency=2))
    results = await asyncio.gather(
        *(client.fetch(f"http://g{i}.example/slow-ok?delay=0.1", kind="feed") for i in range(12))
    )
    assert len(results) == 12
    assert origin.max_active_total == client.limits.global_concurrency


async def test_waiting_for_a_global_slot_does_not_eat_the_deadline(
    make_client: MakeClient, origin: Origin, ca: CertAuthority
) -> None:
    """Queued behind the process's own work, a fetch still gets its whole deadline."""
    client = make_client(fast_limits(ca.ca_file, global_concurrency=1, deadline_icon_s=0.8))
    results = await asyncio.gather(
        *(client.fetch(f"http://q{i}.example/slow-ok?delay=0.3", kind="icon") for i in range(5))
    )
    assert len(results) == 5
    assert origin.max_active_total == 1


async def test_per_host_limit_is_per_name(
    make_client: MakeClient, origin: Origin, ca: CertAuthority
) -> None:
    client = make_client(fast_limits(ca.ca_file, per_host_concurrency=1, global_concurrency=10))
    await asyncio.gather(
        *(client.fetch("http://one.example/slow-ok?delay=0.1", kind="feed") for _ in range(3)),
        *(client.fetch("http://two.example/slow-ok?delay=0.1", kind="feed") for _ in range(3)),
    )
    assert origin.max_active["one.example"] == 1
    assert origin.max_active["two.example"] == 1
    assert origin.max_active_total == 2


# PAR-03: a fetch that ends early frees its slot.
@pytest.mark.parametrize("fetches", [1, 2])  # one in flight; and one more queued for its slot
async def test_cancelled_fetches_release_their_slots(
    fetches: int, make_client: MakeClient, origin: Origin, ca: CertAuthority
) -> None:
    client = make_client(fast_limits(ca.ca_file, per_host_concurrency=1, global_concurrency=1))
    tasks = []
    for n in range(1, fetches + 1):
        tasks.append(asyncio.create_task(client.fetch("http://c.example/stall", kind="feed")))
        await _fetching(client, origin, "c.example", n)
    for task in reversed(tasks):  # the queued one first, while the other holds the slot
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    result = await client.fetch("http://c.example/feed.xml", kind="feed")
    assert result.status == 200
