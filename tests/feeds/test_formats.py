"""Every feed format and dialect we read, from small inline documents."""

# Fixtures are whole documents and tables of HTML: long lines are the clearest form.
# ruff: noqa: E501

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest

from alt.feeds.parse import MAX_ENTRIES, FeedParseError
from alt.feeds.xmlsafe import prepare_xml
from tests.feeds.support import FETCHED_AT, assert_inert, parse

RSS_091 = """<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
  "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel>
<title>Old &amp; Gold</title><link>http://old.example/</link>
<description>An RSS 0.91 feed&nbsp;with the Netscape DTD</description><language>en-us</language>
<image><title>logo</title><url>http://old.example/logo.gif</url><link>http://old.example/</link></image>
<item><title>First&eacute;</title><link>http://old.example/1</link>
<description>One &lt;b&gt;bold&lt;/b&gt; item</description></item>
<item><title>Second</title><link>http://old.example/2</link></item>
</channel></rss>"""

RSS_092 = """<?xml version="1.0"?>
<rss version="0.92"><channel><title>Podcast 0.92</title><link>https://pod.example/</link>
<description>d</description>
<item><title>Episode 1</title><description>Listen</description>
<enclosure url="https://pod.example/e1.mp3" length="12345" type="audio/mpeg"/>
<category>Audio</category><category>Audio</category><category>Talk</category>
<link>https://pod.example/e1</link></item>
</channel></rss>"""

RSS_10 = """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel rdf:about="https://rdf.example/"><title>RDF site</title><link>https://rdf.example/</link>
<description>RSS 1.0</description><dc:language>de-DE</dc:language>
<items><rdf:Seq><rdf:li rdf:resource="https://rdf.example/a"/></rdf:Seq></items></channel>
<item rdf:about="https://rdf.example/a"><title>A</title><link>https://rdf.example/a</link>
<dc:date>2024-03-04T05:06:07+02:00</dc:date><dc:creator>Anna</dc:creator><dc:subject>Tech</dc:subject>
<description>short</description>
<content:encoded><![CDATA[<p>Full <em>text</em> <img src="/img/a.png"></p>]]></content:encoded></item>
<item rdf:about="https://rdf.example/b"><title>B</title><link>https://rdf.example/b</link></item>
</rdf:RDF>"""

RSS_20 = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/"
  xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>News</title><link>https://news.example/</link><description><![CDATA[<p>All
the <b>news</b></p>]]></description><language>en</language><ttl>30</ttl>
<item><title>Q&amp;amp;A: it&amp;#8217;s here</title><link>/articles/1</link>
<guid isPermaLink="false">news-1</guid><pubDate>Tue, 10 Jun 2003 04:00:00 +0200</pubDate>
<author>joe@news.example (Joe Bloggs)</author><category>World</category>
<description>teaser</description>
<content:encoded><![CDATA[<p>Body with <a href="/more">a link</a> and AT&T.</p><script>x()</script>]]></content:encoded>
<media:thumbnail url="https://cdn.example/t.jpg"/>
<media:content url="https://cdn.example/v.mp4" type="video/mp4" fileSize="999"/>
<atom:updated>2003-06-11T00:00:00Z</atom:updated></item>
<item><title>Second</title><guid>https://news.example/articles/2</guid><description>Only a
guid that is a permalink</description></item>
</channel></rss>"""

ATOM_03 = """<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#" xml:lang="fr">
<title>Atom zero three</title><tagline>old</tagline>
<link rel="alternate" type="text/html" href="https://a03.example/"/>
<modified>2004-01-01T00:00:00Z</modified>
<entry><title>Entr&#233;e</title><link rel="alternate" type="text/html" href="https://a03.example/1"/>
<id>tag:a03.example,2004:1</id><issued>2004-01-01T10:00:00+01:00</issued>
<modified>2004-01-02T00:00:00Z</modified><author><name>Zoé</name></author>
<content type="text/html" mode="escaped">&lt;p&gt;escaped &lt;b&gt;html&lt;/b&gt;&lt;/p&gt;</content></entry>
<entry><title>Base64</title><id>tag:a03.example,2004:2</id><issued>2004-01-03T00:00:00Z</issued>
<content type="text/html" mode="base64">{b64}</content></entry>
</feed>""".replace("{b64}", base64.b64encode(b"<p>decoded <i>base64</i></p>").decode())

ATOM_10 = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example/posts/" xml:lang="en-GB">
<title type="html">Blog &amp;amp; &lt;em&gt;notes&lt;/em&gt;</title>
<subtitle>Sub</subtitle><link rel="self" href="https://blog.example/atom.xml"/>
<link rel="alternate" href="https://blog.example/"/><icon>/favicon.ico</icon>
<id>urn:uuid:60a76c80</id><updated>2024-05-01T00:00:00Z</updated>
<entry><title type="text">Plain &lt;title&gt;</title><id>urn:uuid:1</id>
<link href="first"/><link rel="enclosure" href="/files/a.pdf" type="application/pdf" length="10"/>
<published>2024-04-30T23:00:00-01:00</published><updated>2024-05-01T00:30:00Z</updated>
<author><name>Ann</name></author><author><name>Bob</name></author>
<category term="t1"/><category term="t2" label="Label two"/>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hello <a href="rel">x</a></p></div></content>
</entry>
<entry xml:base="https://other.example/dir/"><title>Summary only</title><id>urn:uuid:2</id>
<link rel="alternate" href="page"/><updated>2024-05-02T00:00:00Z</updated>
<summary>plain summary &amp; text</summary></entry>
</feed>"""


def test_rss_091_with_netscape_doctype() -> None:
    feed = parse(RSS_091.encode("iso-8859-1"))
    assert feed.kind == "rss"
    assert feed.title == "Old & Gold"
    assert feed.description == "An RSS 0.91 feed with the Netscape DTD"  # nbsp is whitespace
    assert feed.language == "en-us"
    assert feed.icon_url == "http://old.example/logo.gif"
    assert [e.title for e in feed.entries] == ["Firsté", "Second"]
    first = feed.entries[0]
    assert first.url == "http://old.example/1"
    assert first.entry_hash == hashlib.sha256(b"http://old.example/1").digest()
    assert first.content_html == "One <b>bold</b> item"
    assert first.published_at == FETCHED_AT  # no date in the feed: the fetch time


def test_rss_092_enclosures_and_categories() -> None:
    entry = parse(RSS_092).entries[0]
    assert entry.enclosures == [
        {"url": "https://pod.example/e1.mp3", "mime_type": "audio/mpeg", "length": 12345,
         "rel": "enclosure"}
    ]  # fmt: skip
    assert entry.categories == ["Audio", "Talk"]


def test_rss_10_rdf() -> None:
    feed = parse(RSS_10, url="https://rdf.example/index.rdf")
    assert feed.kind == "rss"
    assert feed.title == "RDF site"
    assert feed.language == "de-DE"
    a, b = feed.entries
    assert a.guid == "https://rdf.example/a"
    assert a.published_at == datetime(2024, 3, 4, 3, 6, 7, tzinfo=UTC)
    assert a.author == "Anna"
    assert a.categories == ["Tech"]
    assert a.content_html.startswith("<p>Full <em>text</em> <img src=")
    assert 'src="https://rdf.example/img/a.png"' in a.content_html
    assert a.summary_text == "Full text"
    assert b.title == "B"


def test_rss_20() -> None:
    feed = parse(RSS_20, url="https://news.example/feed")
    assert feed.title == "News"
    assert feed.description == "All the news"
    assert feed.ttl_seconds == 1800
    first, second = feed.entries
    assert first.title == "Q&A: it\u2019s here"  # escaped once too often, decoded once
    assert first.url == "https://news.example/articles/1"
    assert first.guid == "news-1"
    assert first.entry_hash == hashlib.sha256(b"news-1").digest()
    assert first.published_at == datetime(2003, 6, 10, 2, 0, tzinfo=UTC)
    assert first.updated_at == datetime(2003, 6, 11, tzinfo=UTC)
    assert first.author == "Joe Bloggs"
    assert first.categories == ["World"]
    assert "<script" not in first.content_html
    assert '<a href="https://news.example/more"' in first.content_html
    assert "AT&amp;T" in first.content_html
    assert first.summary_text == "Body with a link and AT&T."
    assert {e["url"]: e["rel"] for e in first.enclosures} == {
        "https://cdn.example/t.jpg": "thumbnail",
        "https://cdn.example/v.mp4": "enclosure",
    }
    assert second.url == "https://news.example/articles/2"  # a guid without isPermaLink="false"
    assert second.content_html == "Only a\nguid that is a permalink"


def test_atom_03() -> None:
    feed = parse(ATOM_03, url="https://a03.example/atom.xml")
    assert feed.kind == "atom"
    assert feed.title == "Atom zero three"
    assert feed.site_url == "https://a03.example/"
    assert feed.language == "fr"
    first, second = feed.entries
    assert first.title == "Entrée"
    assert first.author == "Zoé"
    assert first.published_at == datetime(2004, 1, 1, 9, 0, tzinfo=UTC)
    assert first.updated_at == datetime(2004, 1, 2, tzinfo=UTC)
    assert first.content_html == "<p>escaped <b>html</b></p>"
    assert first.language == "fr"
    assert second.content_html == "<p>decoded <i>base64</i></p>"


def test_atom_10() -> None:
    feed = parse(ATOM_10, url="https://blog.example/atom.xml")
    assert feed.title == "Blog & notes"  # type="html" title reduced to text
    assert feed.site_url == "https://blog.example/"
    assert feed.icon_url == "https://blog.example/favicon.ico"
    assert feed.description == "Sub"
    first, second = feed.entries
    assert first.title == "Plain <title>"  # type="text": markup is text
    assert first.url == "https://blog.example/posts/first"  # xml:base
    assert first.guid == "urn:uuid:1"
    assert first.published_at == datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    assert first.author == "Ann, Bob"
    assert first.categories == ["t1", "Label two"]
    assert first.content_html == (
        '<p>Hello <a href="https://blog.example/posts/rel" target="_blank" '
        'rel="noopener noreferrer nofollow">x</a></p>'
    )
    assert first.enclosures == [
        {"url": "https://blog.example/files/a.pdf", "mime_type": "application/pdf",
         "length": 10, "rel": "enclosure"}
    ]  # fmt: skip
    assert first.language == "en-GB"
    assert second.url == "https://other.example/dir/page"  # the entry's own xml:base
    assert second.published_at == datetime(2024, 5, 2, tzinfo=UTC)  # updated stands in
    assert second.content_html == "<p>plain summary &amp; text</p>"


JSON_10 = {
    "version": "https://jsonfeed.org/version/1",
    "title": "JSON one",
    "home_page_url": "https://j.example/",
    "author": {"name": "Feed author"},
    "items": [
        {
            "id": 42,
            "url": "https://j.example/42",
            "title": "Numeric id",
            "content_text": "line one\n\nline <two>",
            "date_published": "2024-01-02T03:04:05Z",
            "author": {"name": "Item author"},
            "tags": ["a", "b"],
        }
    ],
}
JSON_11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON one.one",
    "language": "ja",
    "favicon": "https://j.example/favicon.png",
    "items": [
        {
            "id": "x1",
            "external_url": "https://elsewhere.example/story",
            "content_html": "<p>html <b>body</b></p>",
            "summary": "a summary",
            "date_modified": "2024-02-01T00:00:00+09:00",
            "authors": [{"name": "A"}, {"name": "B"}],
            "attachments": [
                {"url": "https://j.example/a.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 7}
            ],
            "language": "en",
        },
        {"id": "bad", "title": 5},
        {"id": "x3", "title": "a\u0000b", "content_text": "third"},
    ],
}


def test_json_feed_10() -> None:
    feed = parse(json.dumps(JSON_10), content_type="application/feed+json")
    assert feed.kind == "json"
    assert feed.site_url == "https://j.example/"
    entry = feed.entries[0]
    assert entry.guid == "42"
    assert entry.entry_hash == hashlib.sha256(b"42").digest()
    assert entry.content_html == "<p>line one</p><p>line &lt;two&gt;</p>"
    assert entry.author == "Item author"
    assert entry.categories == ["a", "b"]
    assert entry.published_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


# REL-07: one bad item is skipped alone.
def test_json_feed_11_and_a_bad_item_among_good_ones() -> None:
    feed = parse(json.dumps(JSON_11))
    assert feed.language == "ja"
    assert feed.icon_url == "https://j.example/favicon.png"
    assert [e.guid for e in feed.entries] == ["x1", "x3"]  # REL-07: the bad item alone is skipped
    assert any("item 2 skipped" in w and "title" in w for w in feed.warnings)
    first, third = feed.entries
    assert first.url == "https://elsewhere.example/story"
    assert first.author == "A, B"
    assert first.language == "en"
    assert first.updated_at == datetime(2024, 1, 31, 15, 0, tzinfo=UTC)
    assert first.published_at == first.updated_at
    assert first.enclosures[0]["length"] == 7
    assert third.title == "ab"  # NUL removed, the item kept


# REL-07: a NUL in one item spoils nothing.
def test_rel_07_a_nul_in_one_json_item_spoils_nothing() -> None:
    items = [
        {"id": "1", "title": "first"},
        {"id": "2", "title": "a\u0000b"},
        {"id": "3", "title": "third"},
    ]
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items}
    feed = parse(json.dumps(document))
    assert [e.title for e in feed.entries] == ["first", "ab", "third"]
    again = parse(json.dumps(document))  # the next refresh gives the same rows
    assert [e.entry_hash for e in again.entries] == [e.entry_hash for e in feed.entries]


@pytest.mark.parametrize(
    ("encoding", "declared"),
    [
        ("windows-1252", "windows-1252"),
        ("iso-8859-1", "ISO-8859-1"),
        ("shift_jis", "Shift_JIS"),
        ("koi8-r", "KOI8-R"),
        ("gb18030", "GB2312"),
        ("euc-kr", "EUC-KR"),
    ],
)
def test_declared_encodings(encoding: str, declared: str) -> None:
    title = {
        "windows-1252": "caf\u00e9 \u201cquoted\u201d \u20ac",
        "iso-8859-1": "caf\u00e9 na\u00efve",
        "shift_jis": "日本語のタイトル",
        "koi8-r": "Привет",
        "gb18030": "中文标题",
        "euc-kr": "한국어",
    }[encoding]
    document = (
        f'<?xml version="1.0" encoding="{declared}"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{title}</title><guid>g</guid></item></channel></rss>"
    )
    assert parse(document.encode(encoding)).entries[0].title == title


def test_iso_8859_1_label_means_windows_1252() -> None:
    # What browsers do: smart quotes in a feed labelled ISO-8859-1 are windows-1252 bytes.
    document = b'<?xml version="1.0" encoding="iso-8859-1"?><rss><channel><item><title>\x93q\x94'
    document += b"</title><guid>g</guid></item></channel></rss>"
    assert parse(document).entries[0].title == "\u201cq\u201d"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig", "utf-32"])
def test_unicode_encodings_with_and_without_bom(codec: str) -> None:
    document = (
        f'<?xml version="1.0" encoding="{codec}"?><rss><channel><title>Ünïcödé 😀</title>'
        "<item><title>日本</title><guid>g</guid></item></channel></rss>"
    )
    feed = parse(document.encode(codec))
    assert feed.title == "Ünïcödé 😀"
    assert feed.entries[0].title == "日本"


def test_http_charset_when_the_document_declares_none() -> None:
    document = "<rss><channel><item><title>Привет</title><guid>g</guid></item></channel></rss>"
    feed = parse(document.encode("windows-1251"), content_type="text/xml; charset=windows-1251")
    assert feed.entries[0].title == "Привет"


def test_valid_utf8_wins_over_a_wrong_http_charset() -> None:
    document = '<?xml version="1.0" encoding="utf-8"?><rss><channel><item><title>café</title>'
    document += "<guid>g</guid></item></channel></rss>"
    feed = parse(document.encode(), content_type="application/rss+xml; charset=ISO-8859-1")
    assert feed.entries[0].title == "café"


def test_undeclared_legacy_bytes_fall_back_to_windows_1252() -> None:
    document = b"<rss><channel><item><title>caf\xe9 \x96 ok</title><guid>g</guid></item>"
    feed = parse(document + b"</channel></rss>")
    assert feed.entries[0].title == "café \u2013 ok"
    assert any("windows-1252" in w for w in feed.warnings)


def test_entities_without_a_dtd_and_bare_ampersands() -> None:
    document = """<rss><channel><title>A &amp; B &mdash; C&nbsp;D</title><item>
    <title>Tom & Jerry &copy; &unknown; &#8364;</title><guid>g</guid>
    <description>x <![CDATA[ &nbsp; stays & literal ]]></description></item></channel></rss>"""
    feed = parse(document)
    assert feed.title == "A & B — C D"
    entry = feed.entries[0]
    assert entry.title == "Tom & Jerry © &unknown; €"
    assert any("&unknown;" in w for w in feed.warnings)


def test_harmless_declared_entities_are_expanded_once() -> None:
    document = """<?xml version="1.0"?><!DOCTYPE rss [
      <!ENTITY company "ACME &#169;"> <!ENTITY nbsp "&#160;">
    ]><rss><channel><title>&company;&nbsp;news</title></channel></rss>"""
    assert parse(document).title == "ACME © news"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", None, "empty"),
        (b"   \n", None, "empty"),
        (b"<!DOCTYPE html><html><head><title>x</title></head><body>hi</body></html>", None,
         "the document is HTML"),
        (b"<html><body><p>page</p></body></html>", "text/html", "the document is HTML"),
        (b'<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', None,
         "the document is HTML"),
        (b"plain text, not a feed", "text/plain", "neither XML nor JSON"),
        (b'{"hello": "world"}', "application/json", "not a JSON Feed"),
        (b"[1, 2, 3]", None, "not an object"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "title": 3}', None, "title"),
        (b"{not json", None, "invalid JSON"),
        (b"<?xml version='1.0'?><catalog><book/></catalog>", None, "root element is <catalog>"),
        (b"<rss><channel><title>unterminated", None, None),
    ],
)  # fmt: skip
def test_not_a_feed(body: bytes, content_type: str | None, message: str | None) -> None:
    if message is None:  # recover mode reads what is there; nothing is invented
        feed = parse(body, content_type=content_type)
        assert feed.title == "unterminated"
        assert feed.entries == []
        assert any("malformed" in w for w in feed.warnings)
        return
    with pytest.raises(FeedParseError, match=message):
        parse(body, content_type=content_type)


def test_json_nesting_bomb_is_refused() -> None:
    bomb = b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "x": ' + b"[" * 100_000
    with pytest.raises(FeedParseError):
        parse(bomb + b"]" * 100_000 + b"}")


def test_relative_urls_only_against_web_bases() -> None:
    document = """<rss><channel><link>/home</link><item><title>t</title>
    <link>../up/item?a=1&amp;b=2</link><guid>g</guid>
    <description>&lt;a href="x"&gt;x&lt;/a&gt; &lt;img src="//cdn.example/i.png"&gt;</description>
    </item></channel></rss>"""
    feed = parse(document, url="https://site.example/blog/feed.xml")
    assert feed.site_url == "https://site.example/home"
    entry = feed.entries[0]
    assert entry.url == "https://site.example/up/item?a=1&b=2"
    assert 'href="https://site.example/blog/x"' in entry.content_html
    assert 'src="https://cdn.example/i.png"' in entry.content_html


# PAR-05: the 500 newest entries are kept, by date.
def test_the_500_newest_entries_are_kept() -> None:
    # 600 dated items in shuffled order: the 500 newest survive, in document order.
    days = [(i * 7919) % 600 for i in range(600)]
    items = "".join(
        f"<item><title>d{day}</title><guid>g{day}</guid><pubDate>"
        f"{datetime.fromtimestamp(1577836800 + day * 86400, UTC):%a, %d %b %Y %H:%M:%S} GMT"
        "</pubDate></item>"
        for day in days
    )
    feed = parse(f"<rss><channel><title>t</title>{items}</channel></rss>")
    assert len(feed.entries) == MAX_ENTRIES
    kept = [int(e.title[1:]) for e in feed.entries]
    assert sorted(kept) == list(range(100, 600))
    assert kept == [day for day in days if day >= 100]  # document order
    assert any("500 newest of 600" in w for w in feed.warnings)


def test_oversized_content_is_cut_to_512_kib_and_stays_well_formed() -> None:
    paragraph = "<p>" + "word " * 200 + "<b>bold</b></p>"
    huge = paragraph * 1000  # ~1 MiB
    document = (
        f"<rss><channel><item><title>big</title><guid>g</guid><description><![CDATA[{huge}]]>"
    )
    entry = parse(document + "</description></item></channel></rss>").entries[0]
    assert 400 * 1024 < len(entry.content_html.encode()) <= 512 * 1024
    assert entry.content_html.endswith("</p>") or entry.content_html.endswith("</b>")
    assert_inert(entry.content_html)


def test_titles_are_plain_text_on_one_line() -> None:
    document = """<rss><channel><item><guid>g</guid><title>  Line one
      line two\tand\u00a0more  </title></item><item><guid>h</guid>
      <description>&lt;p&gt;No title here, only the body text.&lt;/p&gt;</description></item>
      </channel></rss>"""
    first, second = parse(document).entries
    assert first.title == "Line one line two and more"
    assert second.title == "No title here, only the body text."  # derived from the text


def test_published_dates_never_lie() -> None:
    document = """<rss><channel>
    <item><guid>future</guid><pubDate>Fri, 31 Dec 2100 00:00:00 GMT</pubDate></item>
    <item><guid>zone</guid><pubDate>Sat, 31 May 2025 23:00:00 -0500</pubDate></item>
    <item><guid>iso</guid><pubDate>2025-05-31T12:00:00+09:00</pubDate></item>
    </channel></rss>"""
    future, zone, iso = parse(document).entries
    assert future.published_at == FETCHED_AT
    assert zone.published_at == datetime(2025, 6, 1, 4, 0, tzinfo=UTC)
    assert iso.published_at == datetime(2025, 5, 31, 3, 0, tzinfo=UTC)


def _rss_titled(title: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><guid>1</guid><title>{title}</title></item></channel></rss>"
    )


# PAR-07: characters XML forbids are removed with a warning.
@pytest.mark.parametrize("illegal", ["\x01", "\x1f", "\ufffe", "\uffff"])
def test_characters_xml_forbids_are_removed_with_a_warning(illegal: str) -> None:
    feed = parse(_rss_titled(f"a{illegal}b\uff0c한"))
    assert feed.entries[0].title == "ab\uff0c한"
    assert any("removed 1 characters that XML does not allow" in w for w in feed.warnings)


# PAR-07: a lone surrogate is removed before parsing.
@pytest.mark.parametrize("surrogate", [chr(0xD800), chr(0xDFFF)])
def test_a_lone_surrogate_is_removed_before_the_xml_parser(surrogate: str) -> None:
    # No decoder of ours makes one, but the text is re-encoded as UTF-8 for lxml.
    data, warnings = prepare_xml(_rss_titled(f"a{surrogate}b"))
    assert b"<title>ab</title>" in data
    assert any("removed 1 characters" in w for w in warnings)


def test_text_whose_bytes_merely_look_like_forbidden_ones_is_left_alone() -> None:
    # U+FF0C and U+FFFD lead with the byte of U+FFFE/U+FFFF, Hangul with that of surrogates.
    feed = parse(_rss_titled("\uff0c\ufffd한\ud7ff\ue000"))
    assert feed.entries[0].title == "\uff0c\ufffd한\ud7ff\ue000"
    assert not any("does not allow" in w for w in feed.warnings)
