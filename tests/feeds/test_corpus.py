"""The attack corpus (shared/security/corpus, copied to tests/feeds/corpus), one test per README
row that concerns parsing and sanitising. Each test asserts what the README's "Expected handling"
column asks, in the form this library implements it."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
import unicodedata
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import regex

from alt.feeds.autodiscovery import discover_feed_links
from alt.feeds.opml import parse_opml
from alt.feeds.parse import MAX_ENTRIES, FeedParseError, ParsedEntry, ParsedFeed
from alt.feeds.sanitize import plain_text, sanitize_html, strip_invisible
from alt.feeds.xmlsafe import decode_document, parse_xml, prepare_xml
from tests.feeds.support import FEED_URL, FETCHED_AT, assert_inert, corpus, parse

C0_EXCEPT_WHITESPACE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def sha(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def by_guid(feed: ParsedFeed) -> dict[str, ParsedEntry]:
    return {entry.guid or "": entry for entry in feed.entries}


def text_fields(entry: ParsedEntry) -> list[str]:
    fields = [entry.title, entry.content_html, entry.summary_text, entry.author or ""]
    return [*fields, entry.guid or "", entry.url or "", *entry.categories]


# --- entity expansion, external entities ------------------------------------------------------


# PAR-01: entity expansion is refused.
def test_billion_laughs_is_refused_with_a_clear_message() -> None:
    with pytest.raises(FeedParseError, match="XML entity declarations are not allowed") as info:
        parse(corpus("billion-laughs.xml"))
    assert "refers to other entities" in str(info.value)
    assert "lollol" not in str(info.value)


# PAR-01: the lenient path expands nothing either.
def test_billion_laughs_lenient_path_never_expands() -> None:
    # The lenient mode (used for OPML) ignores the declarations: the reference stays literal.
    text, _, _ = decode_document(corpus("billion-laughs.xml"))
    data, warnings = prepare_xml(text, strict=False)
    root, _ = parse_xml(data)
    assert root is not None
    assert "lollol" not in "".join(root.itertext())
    assert "&lol9;" in "".join(root.itertext())
    assert any("ignored the DOCTYPE" in w for w in warnings)


# PAR-01: quadratic blowup is refused.
def test_quadratic_blowup_is_refused() -> None:
    with pytest.raises(FeedParseError, match="oversized entity &q;"):
        parse(corpus("quadratic-blowup.xml"))


# PAR-01: external file entities are refused and never read.
def test_xxe_file_is_refused_and_never_read() -> None:
    with pytest.raises(FeedParseError, match="external entity") as info:
        parse(corpus("xxe-file.xml"))
    assert "root:" not in str(info.value)
    text, _, _ = decode_document(corpus("xxe-file.xml"))
    data, _ = prepare_xml(text, strict=False)
    root, _ = parse_xml(data)
    assert root is not None
    content = "".join(root.itertext())
    assert "root:" not in content
    assert "PATH=" not in content
    assert "&xxe_passwd;" in content


class _Canary:
    """An HTTP listener on loopback that counts every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                body = b'<!ENTITY ext "CANARY-CONTENT">'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canary() -> Iterator[_Canary]:
    listener = _Canary()
    # The listener works (so zero hits below means zero requests, not a dead listener).
    with urllib.request.urlopen(listener.url + "/probe", timeout=5) as response:  # noqa: S310
        assert response.status == 200
    assert listener.hits == ["/probe"]
    listener.hits.clear()
    yield listener
    listener.close()


# PAR-01: external entities and DTDs load nothing.
def test_xxe_oob_makes_no_network_request(canary: _Canary) -> None:
    body = corpus("xxe-oob.xml").replace(
        b"http://canary.attack-corpus.invalid", canary.url.encode()
    )
    assert canary.url.encode() in body
    with pytest.raises(FeedParseError, match="not allowed"):
        parse(body)
    text, _, _ = decode_document(body)
    data, _ = prepare_xml(text, strict=False)
    root, _ = parse_xml(data)
    assert root is not None
    assert "CANARY-CONTENT" not in "".join(root.itertext())
    opml = body.replace(b"<rss", b"<opml").replace(b"</rss>", b"</opml>")
    parse_opml(opml)
    assert canary.hits == []


# --- XSS --------------------------------------------------------------------------------------


# PAR-08, PAR-09, PAR-10, PAR-14: markup, URLs, tab-nabbing and template syntax in RSS items.
def test_xss_items_rss() -> None:
    feed = parse(corpus("xss-items.rss"))
    assert len(feed.entries) == 50
    items = {e.title.split()[0]: e for e in feed.entries}
    for name, entry in items.items():
        assert_inert(entry.content_html)
        assert sanitize_html(entry.content_html, FEED_URL) == entry.content_html, name  # stable
        assert entry.url is None or entry.url.startswith("https://feed.example/")
        for enclosure in entry.enclosures:
            assert enclosure["url"].startswith(("http://", "https://"))
        assert "alert" not in re.sub(r"<[^>]*>", "", entry.content_html) or name in (
            "xss-39",  # double-escaped: literal text, by design
            "xss-41",  # template syntax: literal text
            "xss-42",  # attribute breakout: literal text
        ), (name, entry.content_html)
    # Feed-level fields
    assert feed.icon_url is None  # javascript: image URL
    assert "<iframe" not in (feed.description or "")
    # Allowed markup survives
    assert items["xss-01"].content_html == "<p>before</p><p>after</p>"
    assert items["xss-05"].content_html == (
        '<a target="_blank" rel="noopener noreferrer nofollow">read more</a>'
    )
    assert items["xss-18"].content_html == '<details open=""><summary>s</summary></details>'
    assert items["xss-21"].content_html == (
        '<a href="https://feed.example/relative" target="_blank" '
        'rel="noopener noreferrer nofollow">relative link</a>'
    )
    assert items["xss-23"].content_html == "<p>styled</p>"
    assert items["xss-27"].content_html == "<div><h1>Session expired</h1>Log in</div>"
    assert items["xss-31"].content_html == (
        '<img src="https://img.example/ok.png" alt="open me in a new tab">'
    )
    assert items["xss-35"].content_html == (
        '<a href="https://tabnab.example/" target="_blank" '
        'rel="noopener noreferrer nofollow">opens new tab</a>'
    )
    assert "ping=" not in items["xss-36"].content_html
    assert items["xss-39"].content_html == "&lt;script&gt;alert('xss-39')&lt;/script&gt;"
    assert items["xss-39"].summary_text == "<script>alert('xss-39')</script>"  # literal text
    assert "{{ 7*7 }}" in items["xss-41"].content_html
    # URL-valued fields with other schemes are dropped
    assert items["xss-47"].url is None
    assert items["xss-47"].enclosures == []
    assert items["xss-48"].url is None
    assert [e["url"] for e in items["xss-48"].enclosures] == [
        "http://169.254.169.254/latest/meta-data/"  # http: kept; fetching it is the SSRF guard's
    ]
    # Titles, authors and categories are plain text (escaped when shown)
    assert items["xss-01"].title == "xss-01 script element <img src=x onerror=alert('t01')>"
    assert items["xss-49"].author == (
        "\"><img src=x onerror=alert('xss-49')>@example.invalid, <svg onload=alert('xss-49b')>"
    )
    assert items["xss-49"].categories == ["</span><script>alert('xss-49c')</script>"]
    assert items["xss-50"].title == "xss-50 split CDATA <script>alert('xss-50')</script>"
    assert items["xss-50"].content_html == ""


# PAR-08, PAR-09: markup and URLs in Atom entries.
def test_xss_items_atom() -> None:
    feed = parse(corpus("xss-items.atom"), url="https://feed.example/atom.xml")
    assert feed.title == "Atom vectors"  # type="html": the img is markup, dropped
    assert feed.icon_url is None or feed.icon_url.startswith("http")
    assert feed.icon_url == "http://169.254.169.254/latest/meta-data/"  # logo; the icon was js
    entries = {e.guid: e for e in feed.entries}
    for entry in feed.entries:
        assert_inert(entry.content_html)
        assert entry.url is None or entry.url.startswith("https://")
    one = entries["urn:attack-corpus:atom-01"]
    # xml:base="javascript:…" is ignored: relative URLs resolve against the feed's URL.
    assert one.url == "https://feed.example/relative/path"
    assert 'href="https://feed.example/relative-in-content"' in one.content_html
    assert 'src="https://feed.example/pic.png"' in one.content_html
    two = entries["urn:attack-corpus:atom-02"]
    assert two.title == "atom-02 xhtml title bold"
    assert two.content_html == "<p>xhtml body</p>"
    three = entries["urn:attack-corpus:atom-03"]
    assert three.title == "atom-03 <b>double-escaped</b> must render as literal text"
    assert "<b>" not in three.content_html
    four = entries["urn:attack-corpus:atom-04"]
    assert four.url is None
    assert four.enclosures == []
    assert four.content_html == ""  # content/@src is never fetched
    assert four.author == "<img src=x onerror=alert('atom-04c')>"
    five = entries["urn:attack-corpus:atom-05"]
    assert (
        five.title
        == "atom-05 text title with markup <script>alert('atom-05')</script> shown literally"
    )
    assert five.content_html == ""  # the iframe (and its srcdoc) is gone


# PAR-08, PAR-09, PAR-14: markup, URLs and template syntax in a JSON feed.
def test_json_feed_malicious() -> None:
    feed = parse(corpus("json-feed-malicious.json"), content_type="application/feed+json")
    assert feed.kind == "json"
    assert feed.site_url is None  # javascript: home_page_url
    assert feed.icon_url == "http://127.0.0.1:8080/admin/icon.png"  # favicon was file:
    assert feed.title == "JSON <img src=x onerror=alert('json-title')> feed"  # text
    entries = {e.guid: e for e in feed.entries}
    assert len(entries) == 6
    for entry in feed.entries:
        assert_inert(entry.content_html)
    one = entries["json-1"]
    assert one.content_html == (
        '<p>ok</p><img src="https://feed.example/x"><a target="_blank" '
        'rel="noopener noreferrer nofollow">x</a>'
    )
    two = entries["json-2"]
    assert two.url is None  # javascript: url and data: external_url
    assert two.content_html == (
        "<p>&lt;script&gt;alert('json-2c')&lt;/script&gt; content_text must be shown as text</p>"
    )
    three = entries["json-3"]
    assert [e["url"] for e in three.enclosures] == [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    ]  # the file: and gopher: attachments are dropped
    four = entries["json-4"]
    assert four.language is None  # the injected language tag is not a language
    assert four.categories == [
        "<script>alert('json-4')</script>",
        "\" onmouseover=\"alert('json-4b')",
    ]
    five = entries["json-5"]
    assert five.title == "{{ 7*7 }} ${7*7} <%= 7*7 %> template syntax must render literally"
    six = entries["json-6"]
    assert six.title == "json-6 </script><script>alert('json-6')</script> end tag in title"


# PAR-08: a hostile article page through the sanitiser.
def test_article_page_through_the_sanitizer() -> None:
    page = corpus("article-page-malicious.html").decode()
    clean = sanitize_html(page, "https://news.example/reports/q3.html")
    assert_inert(clean)
    assert "<h1>Quarterly report</h1>" in clean
    assert "<p>Revenue grew in the third quarter, driven by subscriptions.</p>" in clean
    # relative links resolve against the page URL, not the page's <base>
    assert 'href="https://news.example/reports/relative/next"' in clean
    assert '<img src="https://img.example/chart.png">' in clean  # srcset (internal) dropped
    assert "srcset" not in clean
    for gone in ("page-base", "refresh", "Content-Security-Policy", "10.0.0.1", "attacker.invalid",
                 "169.254.169.254", "page-noscript", "page-mxss", "page-svg", "page-template",
                 "position", "alert"):  # fmt: skip
        assert gone not in clean, gone
    text = plain_text(page)
    assert text.startswith("Quarterly report\nRevenue grew")
    assert "alert" not in text
    assert "document.cookie" not in text
    assert "Operating costs were flat." in text


# PAR-13: hidden text and TAG characters never reach model input.
def test_prompt_injection_article_text_for_the_llm() -> None:
    text = strip_invisible(plain_text(corpus("prompt-injection-article.html").decode()))
    assert "tide pools" in text
    markers = set(re.findall(r"PWNED-PI-\d+", text))
    # Hidden (display:none, font-size:0), comments, <meta>, alt/title/aria text and TAG
    # characters are gone; visible injections stay (they are data; containment is the LLM's).
    assert markers == {"PWNED-PI-01", "PWNED-PI-08", "PWNED-PI-09", "PWNED-PI-12"}
    assert not regex.search(r"[\U000E0000-\U000E007F\u200B-\u200F]", text)


def test_prompt_injection_items_are_separate_plain_entries() -> None:
    feed = parse(corpus("prompt-injection-items.rss"))
    assert len(feed.entries) == 5
    two = feed.entries[1]
    assert_inert(two.content_html)
    assert "javascript:alert('pi-22')" in two.summary_text  # inert text, never a link
    assert "<a " not in two.content_html
    assert "PWNED-PI-23" in feed.entries[2].summary_text
    assert "PWNED-PI-23" not in feed.entries[3].summary_text


# --- size, encoding, controls ---------------------------------------------------------------


# PAR-06: huge titles cut on a grapheme, huge links dropped, huge ids hashed.
def test_huge_title() -> None:
    feed = parse(corpus("huge-title.atom"))
    entries = {e.entry_hash: e for e in feed.entries}
    assert len(entries) == 5
    one, two, three, four, five = feed.entries
    assert len(one.title) <= 1000
    assert one.title.endswith("…")
    assert one.title.startswith("Very long title Very long title")
    assert len(two.title) <= 1000
    assert two.title.endswith("…")
    assert two.url is None  # the 8 KB link is rejected for that field only
    assert two.content_html  # the article is kept
    assert any("entry 2: link dropped" in w for w in feed.warnings)
    assert three.guid is None  # the 5 KB id is only hashed
    assert three.url == "https://feed.example/huge/3"
    assert len(three.entry_hash) == 32
    raw_id = re.search(rb"<id>(urn:attack-corpus:i{1000,})</id>", corpus("huge-title.atom"))
    assert raw_id is not None
    assert three.entry_hash == hashlib.sha256(raw_id.group(1).strip()).digest()
    assert len(four.title) <= 1000
    body = four.title.removesuffix("…")
    source = re.search(r"<title>(Z[^<]*)</title>", corpus("huge-title.atom").decode())
    assert source is not None
    # cut on a grapheme boundary: the next character of the source starts a new grapheme
    assert source.group(1).startswith(body)
    assert not unicodedata.combining(source.group(1)[len(body)])
    assert five.title == "control entry: normal"


# PAR-05: a feed with 10,000 items keeps the newest 500.
def test_many_items_keeps_the_500_newest() -> None:
    feed = parse(corpus("many-items.rss.gz"))
    assert len(feed.entries) == MAX_ENTRIES == 500
    # no dates: RSS lists newest first, so the first 500 in document order
    assert [e.guid for e in feed.entries] == [f"m-{i}" for i in range(500)]
    assert len({e.entry_hash for e in feed.entries}) == 500
    assert any("500 newest of 10000" in w for w in feed.warnings)


# PAR-07: broken encodings become valid UTF-8 with a warning.
def test_bad_encoding() -> None:
    feed = parse(corpus("bad-encoding.rss"))
    assert len(feed.entries) == 8
    for entry in feed.entries:
        for value in text_fields(entry):
            value.encode("utf-8")  # strict: valid UTF-8 only
            assert "\x00" not in value
    assert by_guid(feed)["enc-8"].title == "valid control: café 日本語 😀"
    assert by_guid(feed)["enc-1"].title.startswith("cp1252 smart quotes \ufffdquoted\ufffd")
    assert any("invalid UTF-8" in w for w in feed.warnings)


# PAR-07: NUL and C0 controls never reach a stored field.
def test_control_characters() -> None:
    feed = parse(corpus("control-chars.rss"))
    assert [e.guid for e in feed.entries] == [f"ctl-{i}" for i in range(1, 8)]
    for entry in feed.entries:
        for value in text_fields(entry):
            assert not C0_EXCEPT_WHITESPACE.search(value), (entry.guid, value)
            assert not re.search("[\x80-\x9f\ufffe\uffff]", value), (entry.guid, value)
        assert "\n" not in entry.title
        assert "\r" not in entry.title
    titles = by_guid(feed)
    assert titles["ctl-1"].title == "NUL here::after NUL"
    # ESC is not an XML character: it goes, and what followed it is harmless text.
    assert titles["ctl-3"].title == (
        "ANSI colour [31mRED[0m and OSC title ]0;pwned and clear-screen [2J"
    )
    assert titles["ctl-4"].title == (
        "fake log line 2024-01-01T00:00:00Z INFO user=admin action=login result=success"
    )


# PAR-07: UTF-7 is never decoded.
def test_utf7_is_not_decoded() -> None:
    feed = parse(corpus("encoding-utf7.rss"))
    assert len(feed.entries) == 1
    entry = feed.entries[0]
    assert entry.title == "+ADw-script+AD4-alert(+ACc-utf7+ACc-)+ADw-/script+AD4-"
    assert entry.content_html == "+ADw-img src+AD0-x onerror+AD0-alert(+ACc-utf7b+ACc-)+AD4-"
    assert any("UTF-7" in w for w in feed.warnings)


# PAR-13: bidi overrides and invisible characters are stripped; hosts in punycode.
def test_unicode_spoofing() -> None:
    feed = parse(corpus("unicode-spoof.rss"))
    entries = by_guid(feed)
    assert len(entries) == 12
    invisible = regex.compile(
        r"[\U000E0000-\U000E007F\u200B-\u200F\u202A-\u202E\u2060-\u2069\u00AD]"
    )
    for entry in feed.entries:
        assert not invisible.search(entry.summary_text)
        assert not invisible.search(strip_invisible(entry.title))
        assert "\u2028" not in entry.title
        assert "\u2029" not in entry.title
    # Hosts are stored in punycode, so the UI shows what the link really is.
    assert entries["uni-4"].url == "https://xn--pple-43d.com/login"
    assert entries["uni-5"].url == "https://xn--ggle-55da.com/"
    assert entries["uni-12"].url == "https://xn--80ak6aa92e.com/"
    assert entries["uni-6"].summary_text.startswith("zero-width and soft-hyphen")
    assert " ".join(strip_invisible(entries["uni-6"].title).split()) == "paypal verifyaccount now"
    assert " ".join(strip_invisible(entries["uni-10"].title).split()) == (
        "tag characters hidden ASCII"
    )
    # Display text keeps emoji sequences whole.
    assert "👨\u200d👩\u200d👧\u200d👦" in entries["uni-9"].title


# PAR-15: deeply nested HTML is flattened without a recursion error.
def test_deep_nesting_html() -> None:
    feed = parse(corpus("deep-nesting-html.rss"))
    deep, control = feed.entries
    assert deep.guid == "deep-1"
    assert control.guid == "deep-2"
    assert deep.content_html.count("<div>") <= 256
    assert_inert(deep.content_html)
    assert plain_text(corpus("deep-nesting-html.rss").decode()) is not None


# REL-09: absurd dates are clamped.
def test_dates_edge() -> None:
    fetched = FETCHED_AT
    feed = parse(corpus("dates-edge.rss"), fetched_at=fetched)
    entries = by_guid(feed)
    assert len(entries) == 11
    for entry in feed.entries:
        assert datetime(1990, 1, 1, tzinfo=UTC) <= entry.published_at <= fetched
        assert entry.published_at.utcoffset() == timedelta(0)
    assert entries["date-1"].published_at == fetched  # year 9999 clamped
    for unknown in ("date-2", "date-3", "date-4", "date-5", "date-6", "date-7", "date-8",
                    "date-9", "date-10"):  # fmt: skip
        assert entries[unknown].published_at == fetched, unknown
    assert entries["date-11"].published_at == datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)


def test_guid_dedupe_identity_rules() -> None:
    feed = parse(corpus("guid-dedupe.rss"))
    entries = {e.title: e for e in feed.entries}
    assert len(entries) == 11
    assert len({e.entry_hash for e in feed.entries}) == 11
    assert entries["dup-guid A"].entry_hash == sha("same-guid")
    assert entries["dup-guid B (same guid, different content, same fetch)"].entry_hash == sha(
        "same-guid|https://feed.example/g/b"
    )
    assert entries["whitespace guid"].entry_hash == sha("ws-guid")  # trimmed
    assert entries["whitespace guid twin"].entry_hash == sha("ws-guid|https://feed.example/g/ws2")
    assert entries["no guid, link only"].entry_hash == sha(
        "https://feed.example/g/linkonly?utm_source=rss"
    )
    assert entries["no guid, same link without tracking"].entry_hash == sha(
        "https://feed.example/g/linkonly"
    )
    assert entries["no guid, no link"].entry_hash == sha(
        "no guid, no linkidentity must come from title+content hash"
    )
    assert entries["relative permalink guid"].url == "https://feed.example/g/relative"
    assert (
        entries["case-differing guid"].entry_hash != entries["case-differing guid twin"].entry_hash
    )
    long_guid = entries["10 KB guid"]
    assert long_guid.guid is None
    raw_guid = re.search(rb">(G{1000,})</guid>", corpus("guid-dedupe.rss"))
    assert raw_guid is not None
    assert long_guid.entry_hash == hashlib.sha256(raw_guid.group(1)).digest()
    # Re-parsing, at another time, gives the same identities: refetching adds nothing.
    again = parse(corpus("guid-dedupe.rss"), fetched_at=FETCHED_AT + timedelta(days=3))
    assert [e.entry_hash for e in again.entries] == [e.entry_hash for e in feed.entries]


# --- OPML and discovery -----------------------------------------------------------------------


# SSRF-11, PAR-15: hostile OPML: bad schemes listed as refused, 200 levels flattened.
def test_opml_malicious() -> None:
    result = parse_opml(corpus("opml-malicious.opml"))
    urls = [s.xml_url for s in result.subscriptions]
    assert urls == [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:5432/",
        "http://127.0.0.1/feed",  # 2130706433, as a browser reads it
        "http://[::ffff:a9fe:a9fe]/",
        "https://feed.example/ok.xml",
        "https://feed.example/t.xml",
        "https://feed.example/dup.xml",
        "https://feed.example/legit.xml",
        "http://[fd00::1]/feed",
        "https://feed.example/deep.xml",
    ]  # scheme and syntax checked here; private addresses are the SSRF policy's to refuse
    reasons = {r.title: r.reason for r in result.rejected}
    assert reasons["file"].startswith("invalid feed URL: file: URLs are not allowed")
    assert reasons["gopher"].startswith("invalid feed URL: gopher: URLs are not allowed")
    assert reasons["duplicate 2 (same xmlUrl)"] == "duplicate: already in this file"
    subscriptions = {s.xml_url: s for s in result.subscriptions}
    assert subscriptions["https://feed.example/ok.xml"].html_url is None  # javascript: htmlUrl
    assert (
        subscriptions["https://feed.example/t.xml"].title
        == "<img src=x onerror=alert('opml-title')>"
    )
    assert subscriptions["http://[fd00::1]/feed"].category == "category &a;&a;&a;&a;"
    assert subscriptions["https://feed.example/deep.xml"].category == "lvl0"  # 200 levels flattened
    assert subscriptions["https://feed.example/legit.xml"].category is None
    assert result.title == "Import &xxe;"  # not expanded
    assert any("ignored the DOCTYPE" in w for w in result.warnings)


# SSRF-11: internal candidates and <base href> in an autodiscovery page.
def test_autodiscovery_ssrf() -> None:
    links = discover_feed_links(corpus("autodiscovery-ssrf.html"), "https://www.example/blog/")
    assert links == [
        "http://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1:8080/feed",  # scheme-relative: the page's scheme
        "https://www.example/blog/internal-feed.xml",  # the page's URL, never its <base>
        "https://feed.example/feed.xml",
    ]  # file: and javascript: are gone; the SSRF policy refuses the first two before any fetch
    assert not any("10.0.0.1" in link for link in links)
