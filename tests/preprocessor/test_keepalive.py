"""The egress client keeps connections alive per host, for the few hosts used last."""

from __future__ import annotations

from typing import Any

import httpcore

from alt.config import Settings
from alt.platform.egress import EgressClient, FetchLimits
from alt.platform.egress.client import KEEPALIVE_HOSTS
from alt.platform.egress.streams import AsyncioBackend
from tests.preprocessor.conftest import RunningFarm
from tests.support.farm import FarmResolver, kind_of


class CountingBackend(AsyncioBackend):
    def __init__(self) -> None:
        self.connections = 0

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.connections += 1
        return await super().connect_tcp(*args, **kwargs)


async def test_connections_are_kept_per_host_for_a_few_hosts(
    settings: Settings, farm: RunningFarm
) -> None:
    network = CountingBackend()
    limits = FetchLimits(
        allowed_ports=(farm.port,), allow_private_hosts=(f"127.0.0.1:{farm.port}",)
    )
    async with EgressClient(settings, limits, resolver=FarmResolver(), network=network) as egress:

        async def fetch(feed: int) -> None:
            await egress.fetch(farm.url(feed), kind="feed")

        plain = [n for n in range(100) if kind_of(n) == kind_of(0)][: KEEPALIVE_HOSTS + 1]
        first, *others = plain
        await fetch(first)
        await fetch(first)
        assert network.connections == 1  # the second fetch reused the first one's connection
        for feed in others:
            await fetch(feed)
        assert network.connections == 1 + KEEPALIVE_HOSTS
        await fetch(first)  # its idle connection was closed to keep the newer hosts'
        assert network.connections == 2 + KEEPALIVE_HOSTS
        await fetch(others[-1])
        assert network.connections == 2 + KEEPALIVE_HOSTS
