"""OPML import/export and feed autodiscovery."""

from __future__ import annotations

import pytest

from alt.feeds.autodiscovery import COMMON_FEED_PATHS, common_feed_urls, discover_feed_links
from alt.feeds.opml import (
    MAX_OUTLINES,
    OpmlError,
    OpmlSubscription,
    parse_opml,
    render_opml,
)

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>My feeds</title></head><body>
<outline text="Top feed" xmlUrl="https://a.example/feed" htmlUrl="https://a.example/" type="rss"/>
<outline text="Tech" title="Tech">
  <outline text="Sub folder">
    <outline title="Deep one" xmlUrl="https://b.example/rss.xml"/>
  </outline>
  <outline text="Shallow" xmlUrl="HTTPS://C.example/atom.xml"/>
</outline>
<outline text="Cat attr" xmlUrl="https://d.example/f" category="/News/World,/Other"/>
<outline text="" xmlUrl="https://e.example/untitled"/>
<outline text="no url, a folder without children"/>
<outline text="bad" xmlUrl="ftp://f.example/feed"/>
<outline text="empty url" xmlUrl=""/>
</body></opml>"""


# PAR-15: nested OPML folders flatten to one level.
def test_nested_folders_flatten_to_one_level() -> None:
    result = parse_opml(NESTED)
    assert result.title == "My feeds"
    assert result.subscriptions == [
        OpmlSubscription("https://a.example/feed", "Top feed", "https://a.example/", None),
        OpmlSubscription("https://b.example/rss.xml", "Deep one", None, "Tech"),
        OpmlSubscription("https://c.example/atom.xml", "Shallow", None, "Tech"),
        OpmlSubscription("https://d.example/f", "Cat attr", None, "News"),
        OpmlSubscription("https://e.example/untitled", "https://e.example/untitled", None, None),
    ]
    assert [(r.title, r.reason) for r in result.rejected] == [
        ("bad", "invalid feed URL: ftp: URLs are not allowed (only http and https)"),
        ("empty url", "invalid feed URL: empty URL"),
    ]


def test_round_trip() -> None:
    subscriptions = [
        OpmlSubscription("https://a.example/feed", "A & <b>", "https://a.example/", None),
        OpmlSubscription("https://z.example/feed", 'Z "quoted"', None, None),
        OpmlSubscription("https://b.example/rss.xml", "B", None, "Tech"),
        OpmlSubscription("https://c.example/atom.xml", "C 日本", None, "Tech"),
        OpmlSubscription("https://d.example/f", "D", "https://d.example/", "News & <More>"),
    ]
    document = render_opml(subscriptions, title="Export")
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    result = parse_opml(document)
    assert result.subscriptions == subscriptions
    assert result.rejected == []
    assert result.title == "Export"
    # and once more: export -> import is stable
    assert parse_opml(render_opml(result.subscriptions, title="Export")) == result


def test_render_groups_by_category_and_cleans_text() -> None:
    subscriptions = [
        OpmlSubscription("https://a.example/1", "one\x00\x1b", None, "Folder"),
        OpmlSubscription("https://b.example/2", "two", None, None),
        OpmlSubscription("https://c.example/3", "three", None, "folder"),
    ]
    result = parse_opml(render_opml(subscriptions))
    assert [(s.xml_url, s.title, s.category) for s in result.subscriptions] == [
        ("https://a.example/1", "one", "Folder"),
        ("https://c.example/3", "three", "Folder"),  # folders are case-insensitive
        ("https://b.example/2", "two", None),
    ]


def test_caps() -> None:
    outlines = "".join(
        f'<outline text="f{i}" xmlUrl="https://feeds.example/{i}"/>'
        for i in range(MAX_OUTLINES + 200)
    )
    result = parse_opml(f"<opml><body>{outlines}</body></opml>".encode())
    assert len(result.subscriptions) == MAX_OUTLINES
    assert any("200 more were ignored" in w for w in result.warnings)
    with pytest.raises(OpmlError, match="larger than 1 MiB"):
        parse_opml(b"<opml><body>" + b" " * (1024 * 1024) + b"</body></opml>")


# PAR-15: deep OPML nesting raises no recursion error.
def test_deep_nesting_without_recursion_errors() -> None:
    depth = 250  # past libxml2's own depth cap: what can be read is read, nothing raises
    document = (
        "<opml><body>"
        + "".join(f'<outline text="l{i}">' for i in range(depth))
        + '<outline text="deep" xmlUrl="https://deep.example/feed"/>'
        + "</outline>" * depth
        + '<outline text="after" xmlUrl="https://after.example/feed"/></body></opml>'
    )
    result = parse_opml(document.encode())
    assert all(s.category in (None, "l0") for s in result.subscriptions)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not XML"),
        (b"just text", "not XML"),
        (b"<rss><channel/></rss>", "root element is not <opml>"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "root element is not <opml>"),
    ],
)
def test_not_opml(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        parse_opml(data)


PAGE = b"""<!doctype html><html><head>
<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">
<link rel="ALTERNATE stylesheet" type="application/atom+xml; charset=utf-8" href="atom.xml">
<link rel="alternate" type="application/feed+json" href="https://cdn.example/feed.json">
<link rel="alternate" type="text/html" href="/fr/">
<link rel="alternate" hreflang="de" href="/de/">
<link rel="stylesheet" type="text/css" href="/style.css">
<link rel="alternate" type="application/rss+xml" href="/feed.xml">
<link rel="alternate" type="application/rss+xml" href="data:application/rss+xml,x">
</head><body><link rel="alternate" type="application/rss+xml" href="/body-feed"></body></html>"""


def test_discovery() -> None:
    assert discover_feed_links(PAGE, "https://site.example/blog/") == [
        "https://site.example/feed.xml",
        "https://site.example/blog/atom.xml",
        "https://cdn.example/feed.json",
        "https://site.example/body-feed",
    ]
    assert discover_feed_links(PAGE, "javascript:alert(1)") == []
    assert discover_feed_links(b"", "https://site.example/") == []
    deep = b"<div>" * 100_000 + PAGE
    assert discover_feed_links(deep, "https://site.example/") == discover_feed_links(
        PAGE, "https://site.example/"
    )


def test_common_feed_paths() -> None:
    assert {"/feed", "/rss", "/atom.xml", "/feed.xml", "/index.xml", "/rss.xml"} <= set(
        COMMON_FEED_PATHS
    )
    urls = common_feed_urls("https://site.example/blog/post?x=1")
    assert urls[0] == "https://site.example/feed"
    assert "https://site.example/index.xml" in urls
    assert common_feed_urls("file:///etc/") == []
