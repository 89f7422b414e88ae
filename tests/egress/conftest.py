"""Fixtures for the egress tests: origins, canaries, the DNS stub, the routing stand-in, TLS.

Nothing here needs PostgreSQL. Timeouts are shortened through `FetchLimits` (the tests read the
values they assert from the limits object, never from literals), so the suite stays fast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpcore
import pytest

from alt.config import Settings, load_settings
from alt.platform.egress import EgressClient, FetchLimits
from tests.egress.support import Canary, CertAuthority, Internet, Origin, StubDNS

# Public addresses the test internet routes to loopback servers (never dialled for real).
PUBLIC = "93.184.215.14"  # feed.example and every other *.example name
PUBLIC_IDN = "93.184.215.15"  # xn--mnchen-3ya.example
PUBLIC_LITERALS = ("8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111")
TLS_NAMES = ["feed.example", "xn--mnchen-3ya.example", "hop1.example", "localhost", "127.0.0.1"]
FRONTEND = "https://reader.example.org"

MakeClient = Callable[..., EgressClient]


def settings_for(proxy: str | None = None) -> Settings:
    return load_settings(ALT_EGRESS_PROXY=proxy, ALT_FRONTEND_URL=FRONTEND)


def fast_limits(ca_file: Path | None, **overrides: Any) -> FetchLimits:
    values: dict[str, Any] = {
        "connect_timeout_s": 1.0,
        "read_timeout_s": 1.0,
        "deadline_feed_s": 4.0,
        "deadline_page_s": 3.0,
        "deadline_icon_s": 2.0,
        "deadline_image_s": 3.0,
        "ca_file": ca_file,
        "allow_private_hosts": (),
    }
    values.update(overrides)
    return FetchLimits(**values)


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertAuthority:
    return CertAuthority(tmp_path_factory.mktemp("ca"))


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    server = await Origin().start()
    yield server
    await server.close()


@pytest.fixture
async def tls_origin(ca: CertAuthority) -> AsyncIterator[Origin]:
    server = await Origin(ca.server_context(TLS_NAMES)).start()
    yield server
    await server.close()


@pytest.fixture
async def canary() -> AsyncIterator[Canary]:
    listener = await Canary().start()
    yield listener
    await listener.close()


@pytest.fixture
def dns() -> StubDNS:
    stub = StubDNS()
    stub.add("feed.example", PUBLIC)
    stub.add("*.example", PUBLIC)
    stub.add("xn--mnchen-3ya.example", PUBLIC_IDN)
    return stub


@pytest.fixture
def internet(canary: Canary, origin: Origin, tls_origin: Origin) -> Internet:
    net = Internet(default=canary.address)
    for port in (80, 8080):
        net.route(PUBLIC, port, ("127.0.0.1", origin.port))
    net.route(PUBLIC, 443, ("127.0.0.1", tls_origin.port))
    net.route(PUBLIC_IDN, 443, ("127.0.0.1", tls_origin.port))
    for address in PUBLIC_LITERALS:
        net.route(address, 80, ("127.0.0.1", origin.port))
    return net


@pytest.fixture
async def make_client(
    ca: CertAuthority, dns: StubDNS, internet: Internet
) -> AsyncIterator[MakeClient]:
    """make_client(limits=None, proxy=None, real_network=False, **limit_overrides).

    By default the client resolves through the DNS stub and dials through the test internet;
    `real_network=True` dials loopback for real (no routing stand-in at all)."""
    made: list[EgressClient] = []

    def make(
        limits: FetchLimits | None = None,
        *,
        proxy: str | None = None,
        real_network: bool = False,
        **overrides: Any,
    ) -> EgressClient:
        network: httpcore.AsyncNetworkBackend | None = None if real_network else internet
        client = EgressClient(
            settings_for(proxy),
            limits or fast_limits(ca.ca_file, **overrides),
            resolver=dns,
            network=network,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()
