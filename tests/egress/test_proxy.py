"""ALT_EGRESS_PROXY with a real forward proxy on loopback: Debian's tinyproxy, with a test
config that admits loopback destinations, and its log file (needs `apt-get install -y tinyproxy`).

Proves from tinyproxy's log that every request went through it, as a CONNECT tunnel to the
address the client resolved and checked (never a name), while the site still sees its own name in
Host and SNI; that with the proxy down nothing is sent directly (REL-06, SSRF-05), that proxy
credentials never reach an origin (S18, SSRF-10), that environment proxies, NO_PROXY and .netrc
are ignored (S20, SSRF-06), and that the destination policy is the client's own, checked before
the proxy is asked (SSRF-08). The shipped proxy configs are tested in test_proxy_config.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import structlog

from alt.platform.egress import FetchError, FetchLimits
from alt.platform.egress.network import ProxyTunnel
from alt.platform.egress.streams import AsyncioBackend
from tests.egress.conftest import MakeClient, fast_limits
from tests.egress.support import Canary, CertAuthority, Origin, StubDNS, Tinyproxy
from tests.helpers import free_port

USER, PASSWORD = "alt", "s3cret-pw"


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    proxy = Tinyproxy(tmp_path / "tinyproxy", user=USER, password=PASSWORD)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(autouse=True)
def localhost_resolves(dns: StubDNS) -> None:
    """As the system resolver does; the client resolves names itself, also through a proxy."""
    dns.add("localhost", "127.0.0.1")


def limits_for(ca: CertAuthority, *origins: Origin, **overrides: object) -> FetchLimits:
    allow = [f"127.0.0.1:{o.port}" for o in origins] + [f"localhost:{o.port}" for o in origins]
    return fast_limits(ca.ca_file, allow_private_hosts=tuple(allow), **overrides)


async def test_every_request_goes_through_the_proxy(
    make_client: MakeClient,
    tinyproxy: Tinyproxy,
    origin: Origin,
    tls_origin: Origin,
    ca: CertAuthority,
) -> None:
    client = make_client(limits_for(ca, origin, tls_origin), proxy=tinyproxy.url, real_network=True)
    plain = await client.fetch(f"http://127.0.0.1:{origin.port}/feed.xml", kind="feed")
    secure = await client.fetch(f"https://localhost:{tls_origin.port}/feed.xml", kind="feed")
    to = quote(f"https://localhost:{tls_origin.port}/echo", safe="")
    hopped = await client.fetch(f"http://127.0.0.1:{origin.port}/redirect?to={to}", kind="page")
    assert plain.status == secure.status == hopped.status == 200

    lines = tinyproxy.requests()
    assert lines == [
        f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1",
        f"CONNECT 127.0.0.1:{tls_origin.port} HTTP/1.1",
        f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1",
        f"CONNECT 127.0.0.1:{tls_origin.port} HTTP/1.1",
    ]
    # Every connection the origins saw was one of the proxy's tunnels (one CONNECT each).
    assert origin.connections == len(origin.requests) == 2
    assert tls_origin.connections == len(tls_origin.requests) == 2
    assert tls_origin.sni == ["localhost", "localhost"]
    assert [r.host for r in tls_origin.requests] == [f"localhost:{tls_origin.port}"] * 2
    for request in origin.requests + tls_origin.requests:
        assert not request.has_header("proxy-authorization")
        assert not request.has_header("authorization")


# SSRF-05: proxy down: a retriable failure, nothing sent directly.
async def test_proxy_down_fails_fast_and_never_goes_direct(
    make_client: MakeClient, origin: Origin, tls_origin: Origin, ca: CertAuthority
) -> None:
    down = f"http://{USER}:{PASSWORD}@127.0.0.1:{free_port()}"
    client = make_client(limits_for(ca, origin, tls_origin), proxy=down, real_network=True)
    urls = [
        f"http://127.0.0.1:{origin.port}/feed.xml",
        f"https://localhost:{tls_origin.port}/feed.xml",
    ]
    errors = []
    with structlog.testing.capture_logs() as logged:
        for url in urls:
            with pytest.raises(FetchError) as caught:
                await client.fetch(url, kind="feed")
            errors.append(caught.value)
    for error in errors:
        # The refused connection is the answer, not a timeout waited for.
        assert (error.reason, error.retriable) == ("proxy", True)
        assert error.message == "the egress proxy is unreachable"
        assert PASSWORD not in error.message
        assert USER not in error.message
    assert origin.connections == 0
    assert tls_origin.connections == 0
    # SSRF-10: the failures are logged, without the proxy's credentials.
    assert [entry["event"] for entry in logged].count("egress.fetch_failed") == 2
    assert PASSWORD not in repr(logged)


# REL-06, SSRF-05: an outage of the proxy: retriable failures, nothing direct.
async def test_rel06_proxy_outage_and_return(
    make_client: MakeClient, tinyproxy: Tinyproxy, origin: Origin, ca: CertAuthority
) -> None:
    client = make_client(limits_for(ca, origin), proxy=tinyproxy.url, real_network=True)
    url = f"http://127.0.0.1:{origin.port}/feed.xml"
    assert (await client.fetch(url, kind="feed")).status == 200
    tinyproxy.stop()
    for _ in range(3):
        with pytest.raises(FetchError) as caught:
            await client.fetch(url, kind="feed")
        assert caught.value.reason == "proxy"
        assert caught.value.retriable
    assert len(origin.requests) == 1  # nothing went direct during the outage
    tinyproxy.start()
    assert (await client.fetch(url, kind="feed")).status == 200
    assert len(origin.requests) == 2
    assert tinyproxy.requests().count(f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1") == 2


async def test_s18_proxy_credentials_never_reach_origins(
    make_client: MakeClient,
    tinyproxy: Tinyproxy,
    tls_origin: Origin,
    ca: CertAuthority,
) -> None:
    """SSRF-10: An HTTPS origin redirects to another HTTPS origin: neither sees Proxy-Authorization;
    the proxy did get the credentials (it requires them)."""
    other = await Origin(ca.server_context(["localhost", "127.0.0.1"])).start()
    try:
        client = make_client(
            limits_for(ca, tls_origin, other), proxy=tinyproxy.url, real_network=True
        )
        to = quote(f"https://localhost:{other.port}/echo", safe="")
        result = await client.fetch(
            f"https://127.0.0.1:{tls_origin.port}/redirect?to={to}", kind="page"
        )
        seen = {name.lower() for name, _ in json.loads(result.body)["headers"]}
        assert "proxy-authorization" not in seen
        assert not any(r.has_header("proxy-authorization") for r in tls_origin.requests)
        assert not any(r.has_header("proxy-authorization") for r in other.requests)
        assert tinyproxy.requests() == [
            f"CONNECT 127.0.0.1:{tls_origin.port} HTTP/1.1",
            f"CONNECT 127.0.0.1:{other.port} HTTP/1.1",
        ]
    finally:
        await other.close()


async def test_proxy_requires_the_credentials_we_send(
    make_client: MakeClient, tinyproxy: Tinyproxy, origin: Origin, ca: CertAuthority
) -> None:
    wrong = f"http://{USER}:wrong@127.0.0.1:{tinyproxy.port}"
    client = make_client(limits_for(ca, origin), proxy=wrong, real_network=True)
    with pytest.raises(FetchError) as caught:
        await client.fetch(f"https://localhost:{origin.port}/", kind="feed")
    assert caught.value.reason == "proxy"
    assert caught.value.status in (401, 407)
    assert "wrong" not in caught.value.message
    # Plain http goes through a tunnel too, so the refusal is the proxy's answer to CONNECT
    # (tinyproxy 1.11 answers 401, not 407), never mistaken for an origin's status.
    with pytest.raises(FetchError) as caught:
        await client.fetch(f"http://localhost:{origin.port}/", kind="feed")
    assert caught.value.reason == "proxy"
    assert caught.value.status in (401, 407)
    assert origin.connections == 0


# SSRF-06: HTTP_PROXY, NO_PROXY and .netrc in the environment are ignored.
async def test_s20_environment_proxies_and_netrc_are_ignored(
    make_client: MakeClient,
    tinyproxy: Tinyproxy,
    origin: Origin,
    canary: Canary,
    ca: CertAuthority,
    dns: StubDNS,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trap = f"http://127.0.0.1:{canary.port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, trap)
    monkeypatch.setenv("NO_PROXY", ".corp.test,localhost,127.0.0.1")
    monkeypatch.setenv("no_proxy", ".corp.test,localhost,127.0.0.1")
    (tmp_path / ".netrc").write_text(
        "machine internal.corp.test login alice password netrc-secret\n"
        "machine 127.0.0.1 login alice password netrc-secret\n"
        "default login bob password netrc-secret\n"
    )
    (tmp_path / ".netrc").chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))

    # Proxy mode: only the configured proxy, although NO_PROXY names the destination.
    proxied = make_client(limits_for(ca, origin), proxy=tinyproxy.url, real_network=True)
    result = await proxied.fetch(f"http://127.0.0.1:{origin.port}/echo", kind="page")
    assert tinyproxy.requests() == [f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1"]
    seen = {name.lower() for name, _ in json.loads(result.body)["headers"]}
    assert "authorization" not in seen

    # Direct mode: no environment proxy either; the internal name is refused when connecting,
    # and a public host is fetched directly, without .netrc credentials.
    dns.add("internal.corp.test", "10.0.0.8")
    direct = make_client()
    with pytest.raises(FetchError) as caught:
        await direct.fetch("http://internal.corp.test/feed", kind="feed")
    assert caught.value.reason == "blocked"
    result = await direct.fetch("http://feed.example:8080/echo", kind="page")
    seen = {name.lower() for name, _ in json.loads(result.body)["headers"]}
    assert "authorization" not in seen
    assert "proxy-authorization" not in seen
    assert canary.hits == []  # the environment's proxy (and the test internet's default)


# SSRF-08: the client's own policy still applies behind a proxy.
async def test_ssrf08_policy_still_applies_with_a_proxy(
    make_client: MakeClient,
    tinyproxy: Tinyproxy,
    origin: Origin,
    canary: Canary,
    ca: CertAuthority,
) -> None:
    client = make_client(
        limits_for(ca, origin, allowed_ports=(80, 443, canary.port)),
        proxy=tinyproxy.url,
        real_network=True,
    )
    for url in (
        f"http://127.0.0.1:{canary.port}/",
        f"http://localhost:{canary.port}/",
        "http://10.0.0.5/",
        "http://169.254.169.254/latest/meta-data/",
        f"http://[::ffff:127.0.0.1]:{canary.port}/",
    ):
        with pytest.raises(FetchError) as caught:
            await client.fetch(url, kind="feed")
        assert caught.value.reason == "blocked", url
    to = quote(f"http://127.0.0.1:{canary.port}/", safe="")
    with pytest.raises(FetchError) as caught:
        await client.fetch(f"http://127.0.0.1:{origin.port}/redirect?to={to}", kind="feed")
    assert caught.value.reason == "blocked"
    assert tinyproxy.requests() == [f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1"]
    assert canary.hits == []


async def test_ipv6_literal_through_the_proxy(
    make_client: MakeClient, tinyproxy: Tinyproxy, ca: CertAuthority
) -> None:
    six = await Origin().start("::1")
    try:
        client = make_client(
            fast_limits(ca.ca_file, allow_private_hosts=(f"[::1]:{six.port}",)),
            proxy=tinyproxy.url,
            real_network=True,
        )
        result = await client.fetch(f"http://[::1]:{six.port}/feed.xml", kind="feed")
        assert result.status == 200
        assert tinyproxy.requests() == [f"CONNECT [::1]:{six.port} HTTP/1.1"]
        assert six.requests[0].host == f"[::1]:{six.port}"
    finally:
        await six.close()


async def test_the_tunnel_asks_the_proxy_for_addresses_only(tinyproxy: Tinyproxy) -> None:
    """Defence in depth under the guard: the tunnel never hands the proxy a name to resolve,
    and never opens a unix socket."""
    tunnel = ProxyTunnel("127.0.0.1", tinyproxy.port, AsyncioBackend(), auth=(USER, PASSWORD))
    with pytest.raises(FetchError) as caught:
        await tunnel.connect_tcp("localhost", 80)
    assert caught.value.reason == "proxy"
    with pytest.raises(FetchError):
        await tunnel.connect_unix_socket("/var/run/docker.sock")
    assert tinyproxy.requests() == []


# SSRF-08: the proxy is asked for the checked address, never a name.
async def test_the_proxy_is_asked_for_the_checked_address(
    make_client: MakeClient,
    tinyproxy: Tinyproxy,
    origin: Origin,
    tls_origin: Origin,
    ca: CertAuthority,
    dns: StubDNS,
) -> None:
    """The client resolves the name and checks the answer, then asks the proxy for a tunnel to
    that address, so the proxy never resolves it (no second answer, no rebinding); the site
    still sees its own name in Host and in TLS (SNI, certificate)."""
    dns.add("feed.example", "127.0.0.1")
    ports = (origin.port, tls_origin.port)
    limits = limits_for(ca, origin, tls_origin, allowed_ports=ports)
    client = make_client(limits, proxy=tinyproxy.url, real_network=True)
    plain = await client.fetch(f"http://feed.example:{origin.port}/feed.xml", kind="feed")
    secure = await client.fetch(f"https://feed.example:{tls_origin.port}/feed.xml", kind="feed")
    assert plain.status == secure.status == 200
    assert tinyproxy.requests() == [
        f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1",
        f"CONNECT 127.0.0.1:{tls_origin.port} HTTP/1.1",
    ]
    assert dns.queries == ["feed.example", "feed.example"]
    assert [r.host for r in origin.requests] == [f"feed.example:{origin.port}"]
    assert [r.target for r in origin.requests] == ["/feed.xml"]
    assert [r.host for r in tls_origin.requests] == [f"feed.example:{tls_origin.port}"]
    assert tls_origin.sni == ["feed.example"]


# SSRF-08: internal destinations are refused before the proxy is asked.
async def test_internal_destinations_are_refused_before_the_proxy_is_asked(
    make_client: MakeClient,
    tinyproxy: Tinyproxy,
    canary: Canary,
    ca: CertAuthority,
    dns: StubDNS,
) -> None:
    """The app alone: the test proxy would fetch anything (it admits loopback), yet no name that
    resolves to an internal address, and no internal literal in any spelling, reaches it."""
    port = canary.port
    dns.add("internal.example", "127.0.0.1")
    dns.add("mapped.example", "::ffff:127.0.0.1")
    dns.add("metadata.example", "169.254.169.254")
    dns.add("mixed.example", ["93.184.215.14", "10.0.0.1"])
    client = make_client(
        fast_limits(ca.ca_file, allowed_ports=(80, 443, port)),
        proxy=tinyproxy.url,
        real_network=True,
    )
    urls = [
        f"http://internal.example:{port}/",
        f"https://internal.example:{port}/",
        f"http://mapped.example:{port}/",
        "http://metadata.example/latest/meta-data/",
        "http://mixed.example/",
        f"http://localhost:{port}/",
        f"http://127.0.0.1:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::1]:{port}/",
        f"http://2130706433:{port}/",
        f"http://0x7f000001:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://127.1:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
    ]
    with structlog.testing.capture_logs() as logged:
        for url in urls:
            with pytest.raises(FetchError) as caught:
                await client.fetch(url, kind="feed")
            assert caught.value.reason == "blocked", url
    refused_at_connect = [e["host"] for e in logged if e["event"] == "egress.blocked_at_connect"]
    assert refused_at_connect == [
        "internal.example",
        "internal.example",
        "mapped.example",
        "metadata.example",
        "mixed.example",
    ]
    assert tinyproxy.requests() == []
    assert canary.hits == []
