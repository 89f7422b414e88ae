"""Helpers for the feed-domain tests: the attack corpus (copied from shared/security/corpus so
the tests run from a clean clone) and a parse helper with a fixed fetch time."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from alt.feeds.parse import ParsedFeed, parse_feed
from alt.feeds.sanitize import ALLOWED_TAGS

CORPUS = Path(__file__).parent / "corpus"
FETCHED_AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
FEED_URL = "https://feed.example/feed.xml"


def corpus(name: str) -> bytes:
    data = (CORPUS / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


def parse(
    body: bytes | str,
    *,
    url: str = FEED_URL,
    content_type: str | None = None,
    fetched_at: datetime = FETCHED_AT,
) -> ParsedFeed:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return parse_feed(data, url=url, content_type=content_type, fetched_at=fetched_at)


FORBIDDEN_TAGS = (
    "script", "iframe", "object", "embed", "form", "input", "button", "svg", "math", "style",
    "base", "meta", "link", "template", "noscript", "frame", "applet", "textarea",
)  # fmt: skip
FORBIDDEN_ATTRIBUTES = ("style", "class", "id", "srcdoc", "formaction", "ping", "action")
URL_ATTRIBUTES = ("href", "src", "cite", "poster", "srcset", "data", "background", "action")


def assert_inert(html: str) -> None:
    """Fail if ``html`` (stored content) could run anything or reach a non-web URL.

    Parsed the way a browser parses it (lexbor), then every element is checked against the
    allowlist; the raw text is checked for forbidden tags too (text "<" is always escaped).
    """
    lowered = html.lower()
    for tag in FORBIDDEN_TAGS:
        assert f"<{tag}" not in lowered, f"<{tag}> in {html!r}"
    assert "\x00" not in html
    tree = LexborHTMLParser(f"<html><body>{html}</body></html>")
    body = tree.body
    assert body is not None
    for node in body.traverse():
        if node.tag in ("-text", "body"):
            continue
        assert node.tag in ALLOWED_TAGS, f"<{node.tag}> in {html!r}"
        for name, value in node.attributes.items():
            name = name.lower()
            assert not name.startswith("on"), f"{name}= in {html!r}"
            assert name not in FORBIDDEN_ATTRIBUTES, f"{name}= in {html!r}"
            if name in URL_ATTRIBUTES:
                assert value is not None
                scheme = value.split(":", 1)[0].lower()
                assert scheme in ("http", "https", "mailto"), f"{name}={value!r} in {html!r}"
                assert name != "srcset"
        if node.tag == "a" and node.attributes.get("href"):
            rel = (node.attributes.get("rel") or "").split()
            assert {"noopener", "noreferrer"} <= set(rel), html
            assert node.attributes.get("target") == "_blank", html
