"""SSRF-02: the check made when connecting. The name is resolved once per connection, every
answer is checked, the client connects to the address it checked, and Host and SNI stay the
name. Redirects to private addresses are refused at every hop."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from alt.platform.egress import FetchError, check_url
from tests.egress.conftest import PUBLIC, MakeClient, fast_limits
from tests.egress.support import Canary, CertAuthority, Internet, Origin, StubDNS


# SSRF-02: a name that resolves differently at connect time is checked again.
async def test_dns_rebinding_has_no_window(
    make_client: MakeClient, dns: StubDNS, internet: Internet, origin: Origin, canary: Canary
) -> None:
    """First answer public, second private: the first connection goes to the public address it
    checked; the next connection resolves again, gets the private answer and is refused."""
    dns.add("rebind.example", PUBLIC, "127.0.0.1")
    client = make_client()
    first = await client.fetch("http://rebind.example/feed.xml", kind="feed")
    assert first.status == 200
    assert dns.queries == ["rebind.example"]  # one resolution for one connection
    assert internet.dials == [(PUBLIC, 80)]  # the checked address, not the name
    assert internet.names_dialled == []

    with pytest.raises(FetchError) as caught:
        await client.fetch("http://rebind.example/feed.xml", kind="feed")
    assert caught.value.reason == "blocked"
    assert dns.queries == ["rebind.example", "rebind.example"]
    assert internet.dials == [(PUBLIC, 80)]
    assert canary.hits == []
    assert len(origin.requests) == 1


async def test_rebinding_on_the_real_network(
    make_client: MakeClient, dns: StubDNS, origin: Origin, canary: Canary, ca: CertAuthority
) -> None:
    """SSRF-02: The same on real sockets: the allowlisted origin first, then the name rebinds to the
    loopback canary's address, which is not allowlisted."""
    dns.add("rebind.example", "127.0.0.2", "127.0.0.1")
    limits = fast_limits(
        ca.ca_file,
        allow_private_hosts=(f"127.0.0.2:{canary.port}",),
        allowed_ports=(80, 443, canary.port),
    )
    # 127.0.0.2:<canary port> is allowlisted but nothing listens there; 127.0.0.1 is the canary.
    client = make_client(limits, real_network=True)
    with pytest.raises(FetchError) as first:
        await client.fetch(f"http://rebind.example:{canary.port}/", kind="feed")
    assert first.value.reason == "connect"  # allowed, dialled 127.0.0.2, refused by the kernel
    with pytest.raises(FetchError) as second:
        await client.fetch(f"http://rebind.example:{canary.port}/", kind="feed")
    assert second.value.reason == "blocked"
    assert canary.hits == []


# SSRF-02: every address a name resolves to is checked, not only the first.
@pytest.mark.parametrize(
    "answers",
    [
        [PUBLIC, "10.0.0.1"],
        ["10.0.0.1", PUBLIC],
        [PUBLIC, "::ffff:169.254.169.254"],
        [PUBLIC, "fd00::1"],
        [PUBLIC, "64:ff9b::a9fe:a9fe"],
    ],
)
async def test_every_answer_is_checked(
    answers: list[str], make_client: MakeClient, dns: StubDNS, internet: Internet, canary: Canary
) -> None:
    dns.add("mixed.example", answers)
    with pytest.raises(FetchError) as caught:
        await make_client().fetch("http://mixed.example/feed.xml", kind="feed")
    assert caught.value.reason == "blocked"
    assert internet.dials == []
    assert canary.hits == []


async def test_next_checked_address_is_tried_when_one_fails(
    make_client: MakeClient, dns: StubDNS, internet: Internet, origin: Origin
) -> None:
    dns.add("multi.example", ["93.184.215.99", PUBLIC])
    internet.route("93.184.215.99", 80, ("127.0.0.1", 9))  # discard port: connection refused
    result = await make_client().fetch("http://multi.example/feed.xml", kind="feed")
    assert result.status == 200
    assert internet.dials == [("93.184.215.99", 80), (PUBLIC, 80)]


async def test_host_and_sni_are_the_name(
    make_client: MakeClient, internet: Internet, tls_origin: Origin
) -> None:
    """The TLS origin's certificate names feed.example only as a name: the handshake succeeds
    because SNI and certificate checks use the name, while the socket went to the address."""
    result = await make_client().fetch("https://feed.example/echo", kind="page")
    assert result.status == 200
    assert internet.dials == [(PUBLIC, 443)]
    assert tls_origin.sni == ["feed.example"]
    assert tls_origin.requests[0].header("host") == "feed.example"


async def test_ip_literal_host_header(make_client: MakeClient, origin: Origin) -> None:
    await make_client().fetch("http://8.8.8.8/echo", kind="page")
    assert origin.requests[0].header("host") == "8.8.8.8"


@pytest.mark.parametrize(
    ("answer", "nat64", "allowed"),
    [
        ("::ffff:127.0.0.1", False, False),
        ("::1", False, False),
        ("64:ff9b::7f00:1", True, False),
        ("64:ff9b::5db8:d70e", False, False),  # 93.184.215.14 through NAT64, NAT64 not declared
        ("64:ff9b::5db8:d70e", True, True),
        ("2606:4700:4700::1111", False, True),
    ],
)
async def test_ipv6_answers(
    answer: str,
    nat64: bool,
    allowed: bool,
    make_client: MakeClient,
    dns: StubDNS,
    internet: Internet,
    origin: Origin,
    canary: Canary,
) -> None:
    dns.add("six.example", answer)
    internet.route(answer, 80, ("127.0.0.1", origin.port))
    client = make_client(nat64=nat64)
    if allowed:
        assert (await client.fetch("http://six.example/feed.xml", kind="feed")).status == 200
        assert internet.dials == [(answer, 80)]
    else:
        with pytest.raises(FetchError) as caught:
            await client.fetch("http://six.example/feed.xml", kind="feed")
        assert caught.value.reason == "blocked"
        assert internet.dials == []
    assert canary.hits == []


@pytest.mark.parametrize("hop", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(
    "final",
    [
        "http://10.0.0.5/",  # literal: refused by check_url on the hop
        "http://internal.corp.test/",  # name: refused when connecting
        "//169.254.169.254/latest/meta-data/",  # scheme-relative
        "http://[::ffff:7f00:1]/",
    ],
)
async def test_redirect_to_private_at_every_hop(
    hop: int,
    final: str,
    make_client: MakeClient,
    dns: StubDNS,
    internet: Internet,
    origin: Origin,
    canary: Canary,
) -> None:
    """SSRF-02: A chain across public hosts hop<n>.example ends in a private destination after `hop`
    redirects (the limit is 5): refused at that hop, nothing reaches the canary."""
    dns.add("internal.corp.test", "10.0.0.8")
    start = f"http://feed.example:8080/chain?n={hop - 1}&final={quote(final, safe='')}"
    with pytest.raises(FetchError) as caught:
        await make_client().fetch(start, kind="feed")
    assert caught.value.reason == "blocked"
    assert "redirect" in caught.value.message
    assert len(origin.requests) == hop
    assert all(port == 8080 for _, port in internet.dials)
    assert canary.hits == []


async def test_redirect_chain_across_hosts_is_followed(
    make_client: MakeClient, origin: Origin, internet: Internet
) -> None:
    final = "https://feed.example/feed.xml"
    start = f"http://feed.example:8080/chain?n=4&final={quote(final, safe='')}"
    result = await make_client().fetch(start, kind="feed")
    assert result.status == 200
    assert result.url == final
    assert len(result.redirects) == 5
    assert [r.host for r in origin.requests] == [
        "feed.example:8080",
        "hop4.example:8080",
        "hop3.example:8080",
        "hop2.example:8080",
        "hop1.example:8080",
    ]
    assert not result.permanent_redirect


async def test_dns_failure(make_client: MakeClient) -> None:
    with pytest.raises(FetchError) as caught:
        await make_client().fetch("http://nowhere.test/", kind="feed")
    assert caught.value.reason == "dns"
    assert caught.value.retriable


async def test_connection_refused(make_client: MakeClient, ca: CertAuthority) -> None:
    client = make_client(
        fast_limits(ca.ca_file, allow_private_hosts=("127.0.0.1:9",)), real_network=True
    )
    with pytest.raises(FetchError) as caught:
        await client.fetch("http://127.0.0.1:9/", kind="feed")
    assert caught.value.reason == "connect"
    assert caught.value.retriable


async def test_system_resolver_is_used_by_default(
    make_client: MakeClient, origin: Origin, ca: CertAuthority
) -> None:
    """Without the stub, `localhost` resolves through the C library; when the operator
    allowlists it, the fetch works and Host stays `localhost:<port>`."""
    from alt.platform.egress import EgressClient
    from tests.egress.conftest import settings_for

    limits = fast_limits(ca.ca_file, allow_private_hosts=(f"localhost:{origin.port}",))
    assert check_url(f"http://localhost:{origin.port}/", limits=limits).host == "localhost"
    async with EgressClient(settings_for(), limits) as client:
        result = await client.fetch(f"http://localhost:{origin.port}/feed.xml", kind="feed")
    assert result.status == 200
    assert origin.requests[0].host == f"localhost:{origin.port}"
