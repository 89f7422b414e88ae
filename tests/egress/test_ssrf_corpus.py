"""SSRF-01 and SSRF-02 (R3): every line of corpus/ssrf-urls.txt with its verdict, fetched
directly and as the Location of a redirect from an allowed host.

Two networks: the test internet (`Internet`, routes public test addresses to the fake origins
and every other dial to the canary, so a leak to 10.0.0.5 or 169.254.169.254 would show up as a
canary hit without sending anything off this machine), and the real loopback network for every
case that points at this machine, with the canary on the port the URL names.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from alt.platform.egress import FetchError, FetchLimits, Kind, check_url
from tests.egress.conftest import MakeClient, fast_limits
from tests.egress.support import CORPUS, Canary, CertAuthority, Internet, Origin, StubDNS


@dataclass(frozen=True)
class Case:
    verdict: str  # BLOCK, BLOCK-DNS, ALLOW, POLICY
    url: str
    why: str
    dns_answer: str | None = None

    @property
    def id(self) -> str:
        return f"{self.verdict}:{self.url}"


def load_cases() -> list[Case]:
    cases = []
    for line in (CORPUS / "ssrf-urls.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        verdict, url, why = line.split("\t", 2)
        url = url.replace("\\t", "\t")
        answer = None
        if verdict.startswith("BLOCK-DNS="):
            verdict, answer = verdict.split("=", 1)
        cases.append(Case(verdict, url, why, answer))
    return cases


CASES = load_cases()
BLOCKING = [c for c in CASES if c.verdict in ("BLOCK", "BLOCK-DNS", "POLICY")]


def test_corpus_is_complete() -> None:
    counts = {
        v: sum(c.verdict == v for c in CASES) for v in ("BLOCK", "BLOCK-DNS", "ALLOW", "POLICY")
    }
    assert counts["BLOCK"] == 77
    assert counts["BLOCK-DNS"] == 10
    assert counts["ALLOW"] == 8
    assert counts["POLICY"] == 3


def host_of(url: str) -> str:
    authority = url.split("//", 1)[1].split("/", 1)[0]
    if authority.startswith("["):
        return authority[1 : authority.index("]")]
    return authority.rsplit(":", 1)[0] if ":" in authority else authority


def expect_refused(exc: FetchError, case: Case) -> None:
    assert exc.reason in ("blocked", "invalid_url"), (case.id, exc)
    if case.verdict == "BLOCK-DNS":
        assert exc.reason == "blocked"
    if case.verdict == "POLICY":
        assert exc.reason == "blocked"
        assert "port" in exc.message


@pytest.mark.parametrize("kind", ["feed", "page", "icon", "image"])
@pytest.mark.parametrize("case", BLOCKING, ids=lambda c: c.id)
async def test_blocked_directly(
    case: Case,
    kind: Kind,
    make_client: MakeClient,
    dns: StubDNS,
    internet: Internet,
    canary: Canary,
) -> None:
    """SSRF-01: Every entry point fetches through the same client: subscribe/refresh/OPML/discovery
    ("feed"), full text ("page"), favicons ("icon"), the image proxy ("image", INC-03)."""
    if case.dns_answer:
        dns.add(host_of(case.url), case.dns_answer)
    client = make_client()
    with pytest.raises(FetchError) as caught:
        await client.fetch(case.url, kind=kind)
    expect_refused(caught.value, case)
    assert internet.dials == []
    assert internet.names_dialled == []
    assert canary.hits == []


# SSRF-01: names that resolve to internal addresses are refused when connecting.
@pytest.mark.parametrize("case", [c for c in CASES if c.verdict == "BLOCK-DNS"], ids=lambda c: c.id)
async def test_dns_cases_are_blocked_when_connecting(
    case: Case, make_client: MakeClient, dns: StubDNS, internet: Internet, canary: Canary
) -> None:
    """Not by string matching on the name: the URL passes check_url, the stub's answer is what
    gets refused, and the message does not reveal the internal address."""
    host = host_of(case.url)
    dns.add(host, case.dns_answer or "")
    if not host.endswith("localhost"):
        check_url(case.url, limits=FetchLimits(allowed_ports=(80, 443, 5432, 8000, 3128)))
    client = make_client(allowed_ports=(80, 443, 5432, 8000, 3128))
    with pytest.raises(FetchError) as caught:
        await client.fetch(case.url, kind="feed")
    assert caught.value.reason == "blocked"
    if not host.endswith("localhost"):
        assert dns.queries == [host]
        assert "resolves to an address that may not be fetched" in caught.value.message
        assert str(case.dns_answer) not in caught.value.message.replace(host, "")
    assert internet.dials == []
    assert canary.hits == []


@pytest.mark.parametrize("case", BLOCKING, ids=lambda c: c.id)
async def test_blocked_as_redirect_target(
    case: Case,
    make_client: MakeClient,
    dns: StubDNS,
    internet: Internet,
    canary: Canary,
    origin: Origin,
) -> None:
    """SSRF-02: R3/R4/R5: an allowed public host answers 302 with the case's URL as Location."""
    if case.dns_answer:
        dns.add(host_of(case.url), case.dns_answer)
    client = make_client()
    start = f"http://feed.example:8080/redirect?to={quote(case.url, safe='')}"
    with pytest.raises(FetchError) as caught:
        await client.fetch(start, kind="feed")
    expect_refused(caught.value, case)
    assert "redirect" in caught.value.message
    assert internet.dials == [("93.184.215.14", 8080)]
    assert origin.paths() == ["/redirect"]
    assert canary.hits == []


@pytest.mark.parametrize("case", [c for c in CASES if c.verdict == "ALLOW"], ids=lambda c: c.id)
async def test_allowed_urls_are_fetched(
    case: Case, make_client: MakeClient, internet: Internet, origin: Origin, tls_origin: Origin
) -> None:
    """SSRF-01: No over-blocking: each ALLOW line is fetched, from the address it resolves to."""
    result = await make_client().fetch(case.url, kind="feed")
    assert result.status == 200
    assert b"<rss" in result.body
    assert len(internet.dials) == 1
    address = ipaddress.ip_address(internet.dials[0][0])
    assert address.is_global
    served = tls_origin if case.url.startswith("https") else origin
    assert len(served.requests) == 1
    assert served.requests[0].host == check_url(case.url, limits=FetchLimits()).host_header


# --- the same on the real loopback network, with the canary where the URL points -------------


def _with_port(url: str, port: int) -> str:
    scheme, rest = url.split("//", 1)
    authority, _, path = rest.partition("/")
    if authority.startswith("["):
        host = authority[: authority.index("]") + 1]
    else:
        host = authority.rsplit(":", 1)[0] if ":" in authority else authority
    return f"{scheme}//{host}:{port}/{path}"


def _loopback_spellings() -> list[Case]:
    """BLOCK lines whose host is this machine (127/8, ::1, 0.0.0.0, loopback in IPv6 forms):
    these can be aimed at the real canary by giving them its port."""
    out = []
    for case in CASES:
        if case.verdict != "BLOCK" or not case.url.lower().startswith("http://"):
            continue
        authority = case.url.split("//", 1)[1].split("/", 1)[0]
        if any(c in authority for c in "@#%\t"):
            continue
        try:
            check_url(_with_port(case.url, 8123), limits=FetchLimits())
        except FetchError as exc:
            # Only forms a socket really delivers to this machine; NAT64, 6to4 and
            # IPv4-compatible addresses would route off it if the check ever failed.
            routed_away = ("NAT64", "6to4", "IPv4-compatible")
            if ("loopback" in exc.message or exc.message.startswith("0.0.0.0 ")) and not any(
                word in exc.message for word in routed_away
            ):
                out.append(case)
    return out


LOOPBACK = _loopback_spellings()


def test_loopback_spellings_found() -> None:
    assert len(LOOPBACK) == 23  # every IPv4 spelling, the ::1 forms and the mapped forms


# SSRF-01: every spelling of loopback is refused and the canary sees nothing.
@pytest.mark.parametrize("case", LOOPBACK, ids=lambda c: c.id)
async def test_loopback_spellings_never_reach_the_canary(
    case: Case, make_client: MakeClient, canary: Canary
) -> None:
    client = make_client(real_network=True, allowed_ports=(80, 443, canary.port))
    with pytest.raises(FetchError) as caught:
        await client.fetch(_with_port(case.url, canary.port), kind="feed")
    assert caught.value.reason == "blocked"
    assert canary.hits == []


# SSRF-01: names resolving to loopback never reach the canary.
@pytest.mark.parametrize("case", [c for c in CASES if c.verdict == "BLOCK-DNS"], ids=lambda c: c.id)
@pytest.mark.parametrize("answer", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
async def test_names_rebound_to_loopback_never_reach_the_canary(
    case: Case, answer: str, make_client: MakeClient, dns: StubDNS, canary: Canary
) -> None:
    dns.add(host_of(case.url), answer)
    client = make_client(real_network=True, allowed_ports=(80, 443, canary.port))
    with pytest.raises(FetchError) as caught:
        await client.fetch(_with_port(case.url, canary.port), kind="feed")
    assert caught.value.reason == "blocked"
    assert canary.hits == []


# --- positive controls: the canaries do see what is let through --------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]"])
async def test_control_real_canary_records_an_allowlisted_fetch(
    host: str, make_client: MakeClient, canary: Canary, ca: CertAuthority
) -> None:
    # The allowlist is the only difference from the loopback tests above.
    real = make_client(
        fast_limits(ca.ca_file, allow_private_hosts=(f"{host}:{canary.port}",)),
        real_network=True,
    )
    with pytest.raises(FetchError) as caught:
        await real.fetch(f"http://{host}:{canary.port}/", kind="feed")
    assert caught.value.reason != "blocked"
    assert len(canary.hits) == 1
    assert canary.hits[0][1].startswith(b"GET / HTTP/1.1")


async def test_control_internet_routes_an_allowlisted_private_address_to_the_canary(
    make_client: MakeClient, internet: Internet, canary: Canary, ca: CertAuthority
) -> None:
    client = make_client(fast_limits(ca.ca_file, allow_private_hosts=("10.0.0.5:80",)))
    with pytest.raises(FetchError) as caught:
        await client.fetch("http://10.0.0.5/", kind="feed")
    assert caught.value.reason != "blocked"
    assert internet.dials == [("10.0.0.5", 80)]
    assert len(canary.hits) == 1


# SSRF-02: scheme-relative and IPv4-mapped Location headers are checked again.
async def test_r5_scheme_relative_and_mapped_locations(
    make_client: MakeClient, internet: Internet, origin: Origin, canary: Canary
) -> None:
    for location in ("//127.0.0.1:8080/x", "http://[::ffff:7f00:1]/", "//169.254.169.254/"):
        origin.reset()
        with pytest.raises(FetchError) as caught:
            await make_client().fetch(
                f"http://feed.example:8080/redirect?to={quote(location, safe='')}", kind="image"
            )
        assert caught.value.reason == "blocked", location
        assert "not a public address" in caught.value.message
        assert origin.paths() == ["/redirect"]
    assert canary.hits == []
    assert internet.dials == [("93.184.215.14", 8080)] * 3


async def test_ssrf09_no_port_scan_oracle(make_client: MakeClient, canary: Canary) -> None:
    """SSRF-09: Internal ports open or closed: the same refusal, before any connection is made."""
    client = make_client(allowed_ports=(22, 23, 80))
    errors = []
    for port in (22, 23, 80):
        with pytest.raises(FetchError) as caught:
            await client.fetch(f"http://10.0.0.5:{port}/", kind="feed")
        errors.append((caught.value.reason, caught.value.message, caught.value.status))
    assert len(set(errors)) == 1
    assert canary.hits == []
