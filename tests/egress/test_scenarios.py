"""The fake-origin behaviours of corpus/http-scenarios.md (R1-R8, S1-S17) and the protocol
basics: conditional GET, Retry-After, User-Agent, encodings, statuses."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import quote

import pytest

from alt import __version__
from alt.platform.egress import FetchError, parse_retry_after
from tests.egress.conftest import FRONTEND, PUBLIC, MakeClient, fast_limits
from tests.egress.support import (
    ETAG,
    FEED,
    LAST_MODIFIED,
    Canary,
    CertAuthority,
    Internet,
    Origin,
    RawServer,
)

BASE = "http://feed.example:8080"

# --- redirects -----------------------------------------------------------------------------------


# SSRF-03: after 5 redirects the next hop is never requested.
async def test_r1_redirect_limit(make_client: MakeClient, origin: Origin) -> None:
    client = make_client()
    limit = client.limits.max_redirects
    with pytest.raises(FetchError) as caught:
        await client.fetch(f"{BASE}/r/1", kind="feed")
    assert caught.value.reason == "too_many_redirects"
    assert not caught.value.retriable
    # The first request and `limit` redirects followed; hop limit+1 is never requested.
    assert origin.paths() == [f"/r/{n}" for n in range(1, limit + 2)]


# SSRF-03: a redirect loop ends at the redirect limit.
async def test_r2_redirect_loop(make_client: MakeClient, origin: Origin) -> None:
    client = make_client()
    with pytest.raises(FetchError) as caught:
        await client.fetch(f"{BASE}/loop/a", kind="feed")
    assert caught.value.reason == "too_many_redirects"
    assert len(origin.requests) == client.limits.max_redirects + 1


async def test_redirects_are_reported(make_client: MakeClient) -> None:
    target = quote("https://feed.example/feed.xml", safe="")
    result = await make_client().fetch(f"{BASE}/redirect?status=301&to={target}", kind="feed")
    assert result.url == "https://feed.example/feed.xml"
    assert result.redirects == [f"{BASE}/redirect?status=301&to={target}"]
    assert result.permanent_redirect  # R6: the caller may store the new, validated URL
    temporary = await make_client().fetch(f"{BASE}/redirect?status=307&to={target}", kind="feed")
    assert not temporary.permanent_redirect


async def test_r6_permanent_redirect_to_blocked_address_never_becomes_a_result(
    make_client: MakeClient, canary: Canary
) -> None:
    target = quote("http://169.254.169.254/", safe="")
    with pytest.raises(FetchError) as caught:
        await make_client().fetch(f"{BASE}/redirect?status=301&to={target}", kind="feed")
    assert caught.value.reason == "blocked"
    assert canary.hits == []


# SSRF-02: no cookies or credentials follow a redirect.
async def test_r7_no_cookies_no_credentials_carried(
    make_client: MakeClient, origin: Origin, tls_origin: Origin
) -> None:
    """Cookies set by one host are never sent anywhere (there is no cookie jar), and there is
    no way to give the client credentials, so none can follow a redirect."""
    to = quote("https://feed.example/echo", safe="")
    result = await make_client().fetch(f"{BASE}/redirect?cookie=session%3Dabc&to={to}", kind="page")
    seen = json.loads(result.body)["headers"]
    names = {name.lower() for name, _ in seen}
    assert "cookie" not in names
    assert "authorization" not in names
    # Same host too.
    to_same = quote(f"{BASE}/echo", safe="")
    result = await make_client().fetch(f"{BASE}/redirect?cookie=a%3Db&to={to_same}", kind="page")
    assert "cookie" not in {n.lower() for n, _ in json.loads(result.body)["headers"]}
    assert not any(r.has_header("cookie") for r in origin.requests + tls_origin.requests)


# SSRF-03: huge, CRLF-bearing or doubled Location headers are refused.
@pytest.mark.parametrize("path", ["/long-location", "/crlf-location", "/two-locations"])
async def test_r8_bad_location(path: str, make_client: MakeClient, origin: Origin) -> None:
    with pytest.raises(FetchError) as caught:
        await make_client().fetch(f"{BASE}{path}", kind="feed")
    assert caught.value.reason == "invalid_url"
    assert len(caught.value.message) < 300
    assert "Set-Cookie" not in caught.value.message
    assert origin.paths() == [path]  # no follow-up request at all


async def test_redirect_without_location(make_client: MakeClient) -> None:
    with pytest.raises(FetchError) as caught:
        await make_client().fetch(f"{BASE}/no-location", kind="feed")
    assert caught.value.reason == "http_status"
    assert caught.value.status == 302


# SSRF-02: a redirect to another scheme is refused.
async def test_r4_non_http_redirects(make_client: MakeClient, origin: Origin) -> None:
    for location in ("file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "javascript:alert(1)"):
        origin.reset()
        with pytest.raises(FetchError) as caught:
            await make_client().fetch(f"{BASE}/redirect?to={quote(location, safe='')}", kind="feed")
        assert caught.value.reason == "blocked", location
        assert "only http and https" in caught.value.message


async def test_idn_location_header(make_client: MakeClient, tls_origin: Origin) -> None:
    """A raw UTF-8 Location with an IDN host is decoded, IDNA-encoded and followed."""
    to = quote("https://münchen.example/feed", safe="")
    result = await make_client().fetch(f"{BASE}/redirect?to={to}", kind="feed")
    assert result.url == "https://xn--mnchen-3ya.example/feed"
    assert tls_origin.sni == ["xn--mnchen-3ya.example"]


# --- timeouts ------------------------------------------------------------------------------------


# PAR-03: a silent peer ends at the read timeout.
async def test_s1_read_timeout_when_nothing_is_sent(make_client: MakeClient) -> None:
    client = make_client()
    with pytest.raises(FetchError) as caught:
        await client.fetch(f"{BASE}/stall", kind="feed")
    assert caught.value.reason == "timeout"
    assert caught.value.retriable
    # The read timeout ended it, not the (longer) deadline of the fetch.
    assert f"sent nothing for {client.limits.read_timeout_s:g} s" in caught.value.message


# PAR-03: a body that stalls ends at the read timeout.
async def test_s2_read_timeout_in_the_body(make_client: MakeClient) -> None:
    client = make_client()
    with pytest.raises(FetchError) as caught:
        await client.fetch(f"{BASE}/stall-body", kind="feed")
    assert caught.value.reason == "timeout"
    assert f"sent nothing for {client.limits.read_timeout_s:g} s" in caught.value.message


# PAR-03: a TLS handshake tarpit ends at the connect timeout.
async def test_s3_tls_handshake_tarpit(
    make_client: MakeClient, internet: Internet, ca: CertAuthority
) -> None:
    tarpit = await RawServer("tarpit").start()
    try:
        internet.route(PUBLIC, 443, ("127.0.0.1", tarpit.port))
        client = make_client(fast_limits(ca.ca_file, connect_timeout_s=0.5))
        with pytest.raises(FetchError) as caught:
            await client.fetch("https://feed.example/feed.xml", kind="feed")
        assert caught.value.reason == "timeout"
        assert "connecting to feed.example timed out after 0.5 s" in caught.value.message
        assert tarpit.connections == 1
    finally:
        await tarpit.close()


async def test_total_deadline(make_client: MakeClient, ca: CertAuthority) -> None:
    """PAR-03: A body that trickles a byte every 0.2 s never trips the idle timeout; the deadline
    of the kind ends it."""
    client = make_client(fast_limits(ca.ca_file, deadline_icon_s=1.5))
    with pytest.raises(FetchError) as caught:
        await client.fetch(f"{BASE}/drip", kind="icon")
    assert caught.value.reason == "timeout"
    assert caught.value.message == "the fetch took longer than its 1.5 s deadline"


# PAR-03: a peer that does not speak HTTP is a clean failure.
async def test_s15_non_http_banner(make_client: MakeClient, internet: Internet) -> None:
    banner = await RawServer("banner").start()
    try:
        internet.route(PUBLIC, 8080, ("127.0.0.1", banner.port))
        with pytest.raises(FetchError) as caught:
            await make_client().fetch(f"{BASE}/feed.xml", kind="feed")
        # Refused as soon as the banner is read: a "connect" error, not a timeout.
        assert caught.value.reason == "connect"
        assert not caught.value.retriable
        assert "SSH" not in caught.value.message  # no response bytes in messages
        assert banner.connections == 1  # no retry
    finally:
        await banner.close()


# --- sizes and compression -----------------------------------------------------------------------


# PAR-02: an endless body is cut at the size cap.
async def test_s4_endless_body_is_cut_at_the_cap(make_client: MakeClient) -> None:
    client = make_client()
    with pytest.raises(FetchError) as caught:
        await client.fetch(f"{BASE}/infinite", kind="page")
    assert caught.value.reason == "too_large"
    assert str(client.limits.max_bytes("page")) in caught.value.message


# PAR-02: a lying Content-Length is not trusted.
async def test_s5_content_length_is_not_trusted(make_client: MakeClient, origin: Origin) -> None:
    """Content-Length 100 then 50 MB: exactly the announced 100 bytes are the body; the rest is
    never read as body, and the connection is not reused for the next fetch."""
    client = make_client()
    result = await client.fetch(f"{BASE}/cl-lie", kind="feed")
    assert result.body == b"y" * 100
    again = await client.fetch(f"{BASE}/feed.xml", kind="feed")
    assert again.body == FEED


# PAR-02: a body announced over the cap is refused.
async def test_s6_announced_size_over_the_cap(make_client: MakeClient) -> None:
    with pytest.raises(FetchError) as caught:
        await make_client().fetch(f"{BASE}/cl-huge", kind="feed")
    assert caught.value.reason == "too_large"
    assert "999999999999" in caught.value.message


async def test_body_exactly_at_the_cap(make_client: MakeClient, ca: CertAuthority) -> None:
    client = make_client(fast_limits(ca.ca_file, max_bytes_icon=1000))
    assert len((await client.fetch(f"{BASE}/big?size=1000", kind="icon")).body) == 1000
    with pytest.raises(FetchError) as caught:
        await client.fetch(f"{BASE}/big?size=1001", kind="icon")
    assert caught.value.reason == "too_large"


# PAR-02: gzip bombs stop at the decoded-size cap.
@pytest.mark.parametrize(
    ("path", "kind", "peak_limit"),
    [
        ("/bomb", "feed", 16 * 1024 * 1024),  # S7: 48 MiB inflated, cap 10 MiB
        ("/bomb2", "feed", 16 * 1024 * 1024),  # S8: 1 GiB inside two gzip layers
        ("/bomb", "icon", 3 * 1024 * 1024),  # the same bombs against a 512 KiB cap
        ("/bomb2", "icon", 3 * 1024 * 1024),
    ],
)
async def test_gzip_bombs_stop_at_the_decoded_cap_with_bounded_memory(
    path: str, kind: str, peak_limit: int, make_client: MakeClient
) -> None:
    client = make_client()
    cap = client.limits.max_bytes(kind)  # type: ignore[arg-type]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with pytest.raises(FetchError) as caught:
            await client.fetch(f"{BASE}{path}", kind=kind)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.reason == "too_large"
    assert f"over {cap} bytes" in caught.value.message
    # The decoded body is kept up to the cap; nothing near the bomb's size is ever held.
    assert peak < peak_limit, peak


# PAR-02: more than 2 content encodings are refused.
async def test_s8_long_coding_chain_rejected(make_client: MakeClient) -> None:
    with pytest.raises(FetchError) as caught:
        await make_client().fetch(f"{BASE}/gzip10", kind="feed")
    assert caught.value.reason == "bad_encoding"
    assert "10 times" in caught.value.message


# PAR-04: a redirect's body (a bomb here) is never decoded.
async def test_s17_redirect_body_is_never_decoded(make_client: MakeClient, origin: Origin) -> None:
    tracemalloc.start()
    try:
        result = await make_client().fetch(f"{BASE}/redirect-bomb", kind="feed")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.body == FEED
    assert origin.paths() == ["/redirect-bomb", "/feed.xml"]
    assert peak < 4 * 1024 * 1024, peak


@pytest.mark.parametrize(
    "codings",
    ["gzip", "deflate", "deflate-raw", "br", "zstd", "gzip,br", "br,zstd", "deflate,gzip", ""],
)
async def test_content_encodings(codings: str, make_client: MakeClient) -> None:
    result = await make_client().fetch(f"{BASE}/enc/{codings}", kind="feed")
    assert result.body == FEED


@pytest.mark.parametrize(
    ("codings", "words"),
    [("gzip,gzip,gzip", "3 times"), ("corrupt", "does not decode")],
)
async def test_bad_encodings(codings: str, words: str, make_client: MakeClient) -> None:
    with pytest.raises(FetchError) as caught:
        await make_client().fetch(f"{BASE}/enc/{codings}", kind="feed")
    assert caught.value.reason == "bad_encoding"
    assert words in caught.value.message


@pytest.mark.parametrize("path", ["/many-headers", "/huge-header"])
async def test_s9_header_limits(path: str, make_client: MakeClient) -> None:
    with pytest.raises(FetchError) as caught:
        await make_client().fetch(f"{BASE}{path}", kind="feed")
    assert caught.value.reason == "too_large"
    assert "headers" in caught.value.message


# --- statuses, conditional GET, Retry-After ----------------------------------------------------


async def test_s12_conditional_get(make_client: MakeClient, origin: Origin) -> None:
    client = make_client()
    first = await client.fetch(f"{BASE}/feed.xml", kind="feed")
    assert first.status == 200
    assert not first.not_modified
    assert first.headers["etag"] == ETAG
    assert first.headers["Last-Modified"] == LAST_MODIFIED
    second = await client.fetch(
        f"{BASE}/feed.xml",
        kind="feed",
        etag=first.headers["ETag"],
        last_modified=first.headers["last-modified"],
    )
    assert second.status == 304
    assert second.not_modified
    assert second.body == b""
    sent = origin.requests[1]
    assert sent.header("if-none-match") == ETAG
    assert sent.header("if-modified-since") == LAST_MODIFIED
    assert not origin.requests[0].has_header("if-none-match")


async def test_validators_that_could_inject_headers_are_dropped(
    make_client: MakeClient, origin: Origin
) -> None:
    result = await make_client().fetch(
        f"{BASE}/echo", kind="feed", etag='"a"\r\nX-Injected: 1', last_modified="x\ny"
    )
    names = {n.lower() for n, _ in json.loads(result.body)["headers"]}
    assert "x-injected" not in names
    assert "if-none-match" not in names
    assert "if-modified-since" not in names
    with pytest.raises(ValueError, match="accept"):
        await make_client().fetch(f"{BASE}/echo", kind="feed", accept="a\r\nHost: llm")


async def test_request_headers(make_client: MakeClient, origin: Origin) -> None:
    client = make_client()
    await client.fetch(f"{BASE}/echo", kind="feed")
    await client.fetch(f"{BASE}/echo", kind="page", accept="text/html")
    feed, page = origin.requests
    assert feed.header("user-agent") == f"Alt/{__version__} (+{FRONTEND})"
    assert "application/rss+xml" in (feed.header("accept") or "")
    assert page.header("accept") == "text/html"
    assert set((feed.header("accept-encoding") or "").split(", ")) == {
        "gzip",
        "deflate",
        "br",
        "zstd",
    }
    assert feed.header("host") == "feed.example:8080"


async def test_s14_html_instead_of_a_feed(make_client: MakeClient) -> None:
    """The client returns it with its type; deciding "not a feed" is the parser's job."""
    result = await make_client().fetch(f"{BASE}/html", kind="feed")
    assert (result.content_type, result.charset) == ("text/html", "iso-8859-1")


@pytest.mark.parametrize(
    ("status", "retriable"),
    [(404, False), (410, False), (403, False), (500, True), (502, True), (408, True)],
)
async def test_error_statuses(status: int, retriable: bool, make_client: MakeClient) -> None:
    with pytest.raises(FetchError) as caught:
        await make_client().fetch(f"{BASE}/status/{status}", kind="feed")
    error = caught.value
    assert (error.reason, error.status, error.retriable) == ("http_status", status, retriable)
    assert error.retry_after_s is None
    assert "error page" not in error.message


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    ("value", "expected"),
    [("86400", 86400.0), ("-5", None), ("banana", None), ("999999999", 86400.0), ("120", 120.0)],
)
async def test_s10_retry_after(
    status: int, value: str, expected: float | None, make_client: MakeClient
) -> None:
    with pytest.raises(FetchError) as caught:
        await make_client().fetch(f"{BASE}/status/{status}?retry_after={quote(value)}", kind="feed")
    assert caught.value.status == status
    assert caught.value.retriable
    assert caught.value.retry_after_s == expected


async def test_retry_after_http_date(make_client: MakeClient) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    with pytest.raises(FetchError) as caught:
        await make_client().fetch(f"{BASE}/status/429?retry_after={quote(when)}", kind="feed")
    assert caught.value.retry_after_s is not None
    assert 115 <= caught.value.retry_after_s <= 120


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("0", 86400, now) == 0
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", 86400, now) == 60
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", 86400, now) == 0
    assert parse_retry_after("Sat, 01 Jan 2028 00:00:00 GMT", 86400, now) == 86400
    assert parse_retry_after("1.5", 86400, now) is None
    assert parse_retry_after("", 86400, now) is None
    assert parse_retry_after(None, 86400, now) is None


# --- TLS -----------------------------------------------------------------------------------------


# SSRF-07: self-signed, expired and wrong-name certificates are refused.
@pytest.mark.parametrize("variant", ["self_signed", "expired", "wrong_name"])
async def test_s16_bad_certificates_are_refused(
    variant: str, make_client: MakeClient, internet: Internet, ca: CertAuthority
) -> None:
    if variant == "wrong_name":
        context = ca.server_context(["other.example"])
    else:
        context = ca.server_context(["feed.example"], **{variant: True})
    bad = await Origin(context).start()
    try:
        internet.route(PUBLIC, 443, ("127.0.0.1", bad.port))
        with pytest.raises(FetchError) as caught:
            await make_client().fetch("https://feed.example/feed.xml", kind="feed")
        assert caught.value.reason == "connect"
        assert "certificate" in caught.value.message
        assert bad.requests == []
    finally:
        await bad.close()


async def test_s16_control_the_trusted_certificate_works(make_client: MakeClient) -> None:
    assert (await make_client().fetch("https://feed.example/feed.xml", kind="feed")).body == FEED


async def test_client_is_reusable_and_closes(make_client: MakeClient) -> None:
    client = make_client()
    results = await asyncio.gather(
        *(client.fetch(f"{BASE}/feed.xml", kind="feed") for _ in range(5))
    )
    assert all(r.body == FEED for r in results)
    async with client:
        pass
