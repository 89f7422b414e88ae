"""URL normalisation and date parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from alt.feeds.dates import effective_date, parse_date, plausible_date
from alt.feeds.urls import MAX_URL_BYTES, is_http_url, normalise_url, safe_url
from alt.platform.egress import FetchError, FetchLimits, check_url

SSRF_CORPUS = Path(__file__).parents[1] / "egress" / "corpus" / "ssrf-urls.txt"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com", "https://example.com/"),
        ("HTTPS://Example.COM/Path?Q=1#F", "https://example.com/Path?Q=1#F"),
        ("  https://example.com/a b\t\n ", "https://example.com/a%20b"),
        ("http://example.com:80/x", "http://example.com/x"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://münchen.example/straße", "https://xn--mnchen-3ya.example/stra%C3%9Fe"),
        ("https://\u0430pple.com/", "https://xn--pple-43d.com/"),  # Cyrillic a
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0x7f000001/", "http://127.0.0.1/"),
        ("http://0177.0.0.1/", "http://127.0.0.1/"),
        ("http://127.1/", "http://127.0.0.1/"),
        ("http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/", "http://127.0.0.1/"),
        ("http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
        ("https:\\\\example.com\\a", "https://example.com/a"),
        ("https://example.com/%7Euser/a%20b", "https://example.com/%7Euser/a%20b"),
    ],
)
def test_normalise_url(url: str, expected: str) -> None:
    assert normalise_url(url) == expected
    assert normalise_url(expected) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        ("/relative", "relative URL"),
        ("javascript:alert(1)", "javascript: URLs are not allowed"),
        ("JAVA\tSCRIPT:alert(1)", "javascript: URLs are not allowed"),
        ("data:text/html,x", "data: URLs are not allowed"),
        ("file:///etc/passwd", "file: URLs are not allowed"),
        ("ftp://example.com/", "ftp: URLs are not allowed"),
        ("https://user:pass@example.com/", "credentials"),
        ("https://www.youtube.com@attacker.invalid/", "credentials"),
        ("https:///nohost", "without a host"),
        ("https://example.com:99999/", "malformed"),
        ("http://[::1/", "malformed"),
        ("http://exa\x01mple.com/", "invalid host name"),
        ("http://exa mple.com/", "invalid host name"),
        ("http://256.0.0.1/", "invalid IPv4"),
        ("http://1.2.3.4.5/", "invalid IPv4"),
        ("http://0x1_0.0.0.1/", "invalid IPv4"),  # int() would read 0x1_0 as 16
        ("http://xn--zz.example/", "invalid host name"),  # not punycode: the fetcher refuses it
        ("http://-feed.example/", "invalid host name"),
        ("http://feed..example/", "invalid host name"),
        ("https://example.com/" + "a" * MAX_URL_BYTES, "longer than 2048 bytes"),
    ],
)
def test_refused_urls(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalise_url(url)
    assert safe_url(url) is None
    assert not is_http_url(url)


def refused_corpus_urls() -> list[str]:
    """The SSRF corpus lines refused by their spelling alone (not by a DNS answer)."""
    urls = []
    for line in SSRF_CORPUS.read_text(encoding="utf-8").splitlines():
        if line.startswith(("BLOCK\t", "POLICY\t")):
            urls.append(line.split("\t")[1].replace("\\t", "\t"))
    return urls


@pytest.mark.parametrize("url", refused_corpus_urls())
def test_a_stored_url_is_refused_like_its_original(url: str) -> None:
    """Feeds store what `normalise_url` makes of a URL, and the fetcher later reads that: no
    spelling the fetcher refuses may come out of normalisation as one it would fetch."""
    stored = safe_url(url)
    if stored is not None:
        with pytest.raises(FetchError):
            check_url(stored, limits=FetchLimits())


def test_resolution() -> None:
    base = "https://example.com/blog/post.html"
    assert normalise_url("../img/a.png", base) == "https://example.com/img/a.png"
    assert normalise_url("/abs?x=1", base) == "https://example.com/abs?x=1"
    assert normalise_url("//cdn.example/x", base) == "https://cdn.example/x"
    assert normalise_url("#frag", base) == "https://example.com/blog/post.html#frag"
    assert normalise_url("https://other.example/", base) == "https://other.example/"
    assert safe_url("x", "javascript:alert(1)//") is None
    assert safe_url("x", "file:///etc/") is None
    assert safe_url("javascript:x", base) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("Sun, 6 Nov 1994 08:49:37 -0500", datetime(1994, 11, 6, 13, 49, 37, tzinfo=UTC)),
        ("6 Nov 94 08:49 EST", datetime(1994, 11, 6, 13, 49, tzinfo=UTC)),
        ("Wed, 02 Oct 2002 13:00:00 +0000 (UTC)", datetime(2002, 10, 2, 13, tzinfo=UTC)),
        ("Wed, 02 October 2002 15:00 CEST", datetime(2002, 10, 2, 13, tzinfo=UTC)),
        ("2003-12-13T18:30:02.25+01:00", datetime(2003, 12, 13, 17, 30, 2, 250000, tzinfo=UTC)),
        ("2003-12-13T18:30:02Z", datetime(2003, 12, 13, 18, 30, 2, tzinfo=UTC)),
        ("2003-12-13", datetime(2003, 12, 13, tzinfo=UTC)),
        ("2003-12-13 18:30:02 +0100", datetime(2003, 12, 13, 17, 30, 2, tzinfo=UTC)),
        ("2003-12-13T18:30:02 GMT", datetime(2003, 12, 13, 18, 30, 2, tzinfo=UTC)),
        ("Mon, 01 Jan 0001 00:00:00 GMT", datetime(1, 1, 1, tzinfo=UTC)),
        ("", None),
        ("tomorrow", None),
        ("Fri, 30 Feb 2024 10:00:00 GMT", None),
        ("Tue, 10 Jun 2003 04:00:00 +2500", None),
        ("+275760-09-13T00:00:00Z", None),
        ("100000000000000000000", None),
        ("2024-13-45T25:61:61Z", None),
        ("Mon, 01 Jan 0001 00:00:00 +0100", None),  # would fall before year 1
        ("x" * 1000, None),
    ],
)
def test_parse_date(value: str, expected: datetime | None) -> None:
    assert parse_date(value) == expected


def test_date_policy() -> None:
    fetched = datetime(2025, 6, 1, tzinfo=UTC)
    assert effective_date(None, fetched) == fetched
    assert effective_date(datetime(1989, 12, 31, tzinfo=UTC), fetched) == fetched
    assert effective_date(datetime(9999, 1, 1, tzinfo=UTC), fetched) == fetched
    assert effective_date(fetched + timedelta(seconds=1), fetched) == fetched
    older = datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert effective_date(older, fetched) == older
    assert plausible_date(None, fetched) is None
    assert plausible_date(datetime(1970, 1, 1, tzinfo=UTC), fetched) is None
