"""The synchronous checks: `check_url` (docs/SECURITY.md SSRF-07), the deny-list (SSRF-04) and
the limits (the security plan's defaults, environment parsing)."""

from __future__ import annotations

import inspect
import re
import sys
from ipaddress import ip_address
from pathlib import Path

import pytest

from alt.config import load_settings
from alt.platform.egress import EgressClient, FetchError, FetchLimits, check_url, denied_reason
from alt.platform.egress.limits import MiB

# --- SSRF-04: the deny-check function alone, on the project's pinned Python --------------------

DENIED = [
    "::ffff:127.0.0.1",
    "::ffff:a9fe:a9fe",
    "::127.0.0.1",
    "64:ff9b::7f00:1",
    "2002:a9fe:a9fe::",
    "fec0::1",
    "ff02::1",
    "224.0.0.1",
    "100.64.0.1",
    "100.100.100.200",
    "198.18.0.1",
    "0.0.0.0",  # noqa: S104
    "fe80::1%eth0",
    "127.255.255.254",
    "169.254.169.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "192.0.0.192",
    "192.0.2.1",
    "255.255.255.255",
    "240.0.0.1",
    "::",
    "::1",
    "fd00:ec2::254",
    "fc00::1",
    "2001:db8::1",
    "2001::1",
    "100::1",
    "64:ff9b:1::1",
    "::ffff:10.0.0.1",
]
ALLOWED = ["172.32.0.1", "100.128.0.1", "8.8.8.8", "2606:4700:4700::1111", "93.184.215.14"]


def test_python_is_the_pinned_version() -> None:
    assert sys.version_info[:2] == (3, 11)


# SSRF-04: every internal range, in every IPv6 form, is denied.
@pytest.mark.parametrize("address", DENIED)
def test_deny_list_denies(address: str) -> None:
    assert denied_reason(ip_address(address)) is not None


# SSRF-04: public addresses next to the ranges pass.
@pytest.mark.parametrize("address", ALLOWED)
def test_deny_list_allows_public_addresses(address: str) -> None:
    assert denied_reason(ip_address(address)) is None


# SSRF-04: the deny-list catches what the ipaddress flags miss.
def test_deny_list_does_not_trust_the_ipaddress_flags() -> None:
    # The pitfalls SSRF-04 names exist on this interpreter, and the deny-list catches them.
    mapped = ip_address("::ffff:127.0.0.1")
    assert not mapped.is_loopback
    assert denied_reason(mapped) is not None
    shared = ip_address("100.64.0.1")
    assert not shared.is_private
    assert denied_reason(shared) is not None
    assert ip_address("224.0.0.1").is_global
    assert denied_reason(ip_address("224.0.0.1"))


# SSRF-04: IPv6 forms are judged by their embedded IPv4.
def test_embedded_ipv4_is_named() -> None:
    why = denied_reason(ip_address("64:ff9b::a9fe:a9fe"))
    assert why is not None
    assert "169.254.169.254" in why
    assert "NAT64" in why


def test_nat64_setting_judges_by_the_embedded_address() -> None:
    public = ip_address("64:ff9b::808:808")  # 8.8.8.8 through NAT64
    assert denied_reason(public) is not None
    assert denied_reason(public, nat64=True) is None
    assert denied_reason(ip_address("64:ff9b::7f00:1"), nat64=True) is not None
    assert denied_reason(ip_address("64:ff9b:1::808:808"), nat64=True) is not None


# --- check_url ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://feed.example/feed.xml", "https://feed.example/feed.xml"),
        ("HTTP://FEED.Example:80/a?b=c#frag", "http://feed.example/a?b=c"),
        ("https://feed.example:443", "https://feed.example/"),
        ("http://feed.example:8080/x", "http://feed.example:8080/x"),
        ("https://münchen.example/feed", "https://xn--mnchen-3ya.example/feed"),
        ("https://xn--mnchen-3ya.example/feed", "https://xn--mnchen-3ya.example/feed"),
        ("http://ｆｅｅｄ.example/", "http://feed.example/"),  # noqa: RUF001 (fullwidth)
        ("http://feed.example./", "http://feed.example/"),
        ("http://8.8.8.8/a b/é", "http://8.8.8.8/a%20b/%C3%A9"),
        ("http://[2606:4700:4700:0::1111]/", "http://[2606:4700:4700::1111]/"),
        ("  http://feed.example/\n", "http://feed.example/"),
        ("http://my_host.example/", "http://my_host.example/"),
        ("http://feed.example?x", "http://feed.example/?x"),
    ],
)
def test_accepted_urls_are_normalised(url: str, expected: str) -> None:
    assert check_url(url, limits=FetchLimits()).url == expected


# SSRF-07: user info, control characters, long URLs and odd ports refused with a reason.
@pytest.mark.parametrize(
    ("url", "reason", "words"),
    [
        ("http://user:pass@feed.example/", "blocked", "user name or password"),
        ("http://feed.example@127.0.0.1/", "blocked", "user name or password"),
        ("http://127.0.0.\t1/", "invalid_url", "control characters"),
        ("http://feed.example/\x00", "invalid_url", "control characters"),
        ("http://feed.example/" + "a" * 2100, "invalid_url", "2048 bytes"),
        ("http://feed.example:22/", "blocked", "port 22"),
        ("http://feed.example:6379/", "blocked", "port 6379"),
        ("http://feed.example:99999/", "invalid_url", "port"),
        ("http://feed.example:0/", "invalid_url", "port 0"),
        ("file:///etc/passwd", "blocked", "only http and https"),
        ("feed.example/rss", "invalid_url", "absolute URL"),
        ("http:feed.example", "invalid_url", "http://"),
        ("http://", "invalid_url", "no host"),
        ("http://feed.example\\@127.0.0.1/", "invalid_url", "backslash"),
        ("http://[fe80::1%eth0]/", "invalid_url", "zone"),
        ("http://[::1/", "invalid_url", "not closed"),
        ("http://1.2.3.4.5/", "invalid_url", "four parts"),
        ("http://256.1.1.1/", "invalid_url", "out of range"),
        ("http://feed..example/", "invalid_url", "empty label"),
        ("http://fe%65d.example/", "invalid_url", "percent-encoded"),
        ("http://\u202eevil.example/", "invalid_url", "not allowed"),
        ("http://xn--zz.example/", "invalid_url", "punycode"),
        ("http://feed.example/%0d%0aSet-Cookie:x", "invalid_url", "CR, LF or NUL"),
        ("http://app.localhost/", "blocked", "this machine"),
        ("http://169.254.169.254/latest/", "blocked", "169.254.0.0/16"),
        ("http://[::ffff:a9fe:a9fe]/", "blocked", "IPv4-mapped form of 169.254.169.254"),
    ],
)
def test_refused_urls_say_why(url: str, reason: str, words: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, limits=FetchLimits())
    assert caught.value.reason == reason
    assert words in caught.value.message
    assert not caught.value.retriable


def test_every_ipv4_spelling_of_loopback_is_the_same_address() -> None:
    spellings = [
        "127.0.0.1", "2130706433", "0x7f000001", "017700000001", "0177.0.0.1", "0x7f.0x0.0x0.0x1",
        "127.1", "127.0.1", "127.000.000.001", "１２７．０．０．１", "①②⑦.⓪.⓪.①", "127。0。0。1",  # noqa: RUF001
        "0X7F.1", "127.0.0.1.",
    ]  # fmt: skip
    allow = FetchLimits(allow_private_hosts=("127.0.0.1:80",))
    for spelling in spellings:
        parsed = check_url(f"http://{spelling}/", limits=allow)
        assert (parsed.host, str(parsed.ip)) == ("127.0.0.1", "127.0.0.1"), spelling
        with pytest.raises(FetchError, match="loopback"):
            check_url(f"http://{spelling}/", limits=FetchLimits())


def test_allowlist_is_exact_host_and_port() -> None:
    limits = FetchLimits(
        allow_private_hosts=("127.0.0.1:8123", "[::1]:8443", "Intranet.Example:81")
    )
    assert limits.private_allowlist == {
        ("127.0.0.1", 8123),
        ("::1", 8443),
        ("intranet.example", 81),
    }
    assert check_url("http://127.0.0.1:8123/x", limits=limits).port == 8123
    assert check_url("http://0x7f000001:8123/x", limits=limits).host == "127.0.0.1"
    assert check_url("https://[::1]:8443/", limits=limits).host_header == "[::1]:8443"
    assert check_url("http://intranet.example:81/", limits=limits).port == 81
    for url in ("http://127.0.0.1:8124/", "http://127.0.0.2:8123/", "http://[::1]:8123/"):
        with pytest.raises(FetchError) as caught:
            check_url(url, limits=limits)
        assert caught.value.reason == "blocked"


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.1:80/x", "user@host:80", "a b:80"])
def test_allowlist_entries_must_be_host_port(entry: str) -> None:
    with pytest.raises(ValueError, match="allow_private_hosts"):
        FetchLimits(allow_private_hosts=(entry,))


# --- limits ---------------------------------------------------------------------------------------


def test_defaults_are_the_limits_table() -> None:
    limits = FetchLimits()
    assert (limits.connect_timeout_s, limits.read_timeout_s) == (5.0, 10.0)
    assert [limits.deadline_s(k) for k in ("feed", "page", "icon")] == [30.0, 20.0, 10.0]
    assert [limits.max_bytes(k) for k in ("feed", "page", "icon", "image")] == [
        10 * MiB,
        5 * MiB,
        512 * 1024,
        5 * MiB,
    ]
    assert (limits.max_redirects, limits.max_encodings, limits.max_url_bytes) == (5, 2, 2048)
    assert limits.per_host_concurrency == 2
    assert limits.retry_after_cap_s == 24 * 3600
    assert limits.allowed_ports == (80, 443, 8080, 8443)
    assert limits.allow_private_hosts == ()


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALT_FETCH_ALLOW_PRIVATE_HOSTS", "127.0.0.1:8080, LOCALHOST.:9000")
    monkeypatch.setenv("ALT_FETCH_ALLOWED_PORTS", "443,8443")
    monkeypatch.setenv("ALT_FETCH_MAX_BYTES_FEED", "1000")
    monkeypatch.setenv("ALT_FETCH_PER_HOST_CONCURRENCY", "4")
    limits = load_settings().fetch
    assert limits.allow_private_hosts == ("127.0.0.1:8080", "localhost:9000")
    assert limits.allowed_ports == (443, 8443)
    assert limits.max_bytes("feed") == 1000
    assert limits.per_host_concurrency == 4
    assert check_url("http://127.0.0.1:8080/", limits=limits).host == "127.0.0.1"
    with pytest.raises(FetchError, match="port 80 "):
        check_url("http://feed.example/", limits=limits)


def test_no_per_feed_network_overrides() -> None:
    """INC-06: nothing a user can set per feed reaches the network layer: fetch takes the URL,
    the kind and the two validators (plus Accept from code); proxy, headers, Host, credentials
    and the allowlist are process settings only."""
    parameters = inspect.signature(EgressClient.fetch).parameters
    assert list(parameters) == ["self", "url", "kind", "etag", "last_modified", "accept"]
    constructor = inspect.signature(EgressClient.__init__).parameters
    assert "proxy" not in constructor
    assert "headers" not in constructor


def test_no_code_path_turns_off_certificate_checks() -> None:
    """SSRF-07: nothing in the egress package disables TLS verification."""
    package = Path(__file__).parents[2] / "src" / "alt" / "platform" / "egress"
    pattern = re.compile(
        r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified"
    )
    for path in package.rglob("*.py"):
        assert not pattern.search(path.read_text()), path
