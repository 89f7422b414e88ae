"""One bad item never costs the feed: a surrogate (which is not a character) in any spelling, in
any field of one entry, becomes U+FFFD, the good entries next to it all survive, and the
feed says what was repaired."""

from __future__ import annotations

import json

import pytest

from alt.feeds.parse import ParsedFeed
from alt.feeds.sanitize import sanitize_html
from tests.feeds.support import parse

# How a surrogate reaches us in XML: as a character reference (hex, decimal, zero-padded) or as
# the bytes a UTF-8 encoder writes for one when told to (ED A0 80).
XML_SPELLINGS = {
    "hex reference": "&#xD800;",
    "decimal reference": "&#55296;",
    "padded low reference": "&#x0000DFFF;",
    "encoded bytes": "\ud800",
}
FIELDS = ("title", "content", "link")


def _rss(bad: str, field: str) -> bytes:
    title = f"bad {bad} title" if field == "title" else "bad"
    link = f"https://bad.example/{bad}" if field == "link" else "https://bad.example/"
    content = f"&lt;p&gt;bad {bad} content&lt;/p&gt;" if field == "content" else "bad"
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        "<item><guid>good-1</guid><title>Good one</title><description>first</description></item>"
        f"<item><guid>bad</guid><title>{title}</title><link>{link}</link>"
        f"<description>{content}</description></item>"
        "<item><guid>good-2</guid><title>Good two</title><description>second</description></item>"
        "</channel></rss>"
    ).encode("utf-8", "surrogatepass")


def _atom(bad: str, field: str) -> bytes:
    title = f"bad {bad} title" if field == "title" else "bad"
    link = f"https://bad.example/{bad}" if field == "link" else "https://bad.example/"
    content = f"<p>bad {bad} content</p>" if field == "content" else "bad"
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        "<entry><id>good-1</id><title>Good one</title><content>first</content></entry>"
        f'<entry><id>bad</id><title>{title}</title><link href="{link}"/>'
        f'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">{content}</div>'
        "</content></entry>"
        "<entry><id>good-2</id><title>Good two</title><content>second</content></entry>"
        "</feed>"
    ).encode("utf-8", "surrogatepass")


def _json(bad: str, field: str) -> bytes:
    item: dict[str, str] = {"id": "bad", "title": "bad", "url": "https://bad.example/"}
    if field == "title":
        item["title"] = f"bad {bad} title"
    elif field == "link":
        item["url"] = f"https://bad.example/{bad}"
    else:
        item["content_html"] = f"<p>bad {bad} content</p>"
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "T",
        "items": [
            {"id": "good-1", "title": "Good one", "content_text": "first"},
            item,
            {"id": "good-2", "title": "Good two", "content_text": "second"},
        ],
    }
    return json.dumps(document).encode()  # ensure_ascii: the surrogate travels as "\ud800"


def _assert_only_the_bad_characters_went(feed: ParsedFeed, field: str) -> None:
    good_1, bad, good_2 = feed.entries
    assert (good_1.guid, good_1.title, good_1.summary_text) == ("good-1", "Good one", "first")
    assert (good_2.guid, good_2.title, good_2.summary_text) == ("good-2", "Good two", "second")
    assert bad.guid == "bad"
    for value in (bad.title, bad.content_html, bad.summary_text, bad.url or "", bad.excerpt):
        value.encode("utf-8")  # strict: storable text, no surrogate left
    if field == "title":
        assert bad.title == "bad \ufffd title"
    elif field == "content":
        assert bad.summary_text == "bad \ufffd content"
    else:
        assert bad.url == "https://bad.example/%EF%BF%BD"
    assert any("surrogates" in warning for warning in feed.warnings), feed.warnings


# PAR-07: a surrogate in RSS costs only itself.
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("spelling", XML_SPELLINGS)
def test_rss_keeps_every_good_item_next_to_a_surrogate(spelling: str, field: str) -> None:
    feed = parse(_rss(XML_SPELLINGS[spelling], field))
    _assert_only_the_bad_characters_went(feed, field)


# PAR-07: a surrogate in Atom costs only itself.
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("spelling", XML_SPELLINGS)
def test_atom_keeps_every_good_item_next_to_a_surrogate(spelling: str, field: str) -> None:
    feed = parse(_atom(XML_SPELLINGS[spelling], field))
    _assert_only_the_bad_characters_went(feed, field)


# PAR-07: a lone surrogate in JSON costs only itself.
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("surrogate", [chr(0xD800), chr(0xDFFF)])
def test_json_feed_keeps_every_good_item_next_to_a_lone_surrogate(
    surrogate: str, field: str
) -> None:
    feed = parse(_json(surrogate, field))
    _assert_only_the_bad_characters_went(feed, field)


def test_a_surrogate_pair_in_json_is_one_character() -> None:
    feed = parse(_json("\ud83d\ude00", "title"))
    assert feed.entries[1].title == "bad \U0001f600 title"
    assert not any("surrogates" in warning for warning in feed.warnings)


def test_an_encoded_surrogate_is_not_read_as_windows_1252() -> None:
    # The only non-ASCII bytes are a surrogate's: a UTF-8 encoder wrote them, not cp1252.
    feed = parse(_rss("\ud800", "title"))
    assert feed.entries[1].title == "bad \ufffd title"
    assert not any("windows-1252" in warning for warning in feed.warnings)


def test_a_surrogate_in_a_declared_entity_is_replaced() -> None:
    document = (
        '<!DOCTYPE rss [<!ENTITY bad "&#xD800;">]><rss version="2.0"><channel><title>T</title>'
        "<item><guid>a</guid><title>x &bad; y</title></item></channel></rss>"
    )
    assert parse(document).entries[0].title == "x \ufffd y"


def test_the_sanitizer_drops_lone_surrogates() -> None:
    assert sanitize_html("<p>a\ud800b</p>", None) == "<p>ab</p>"
