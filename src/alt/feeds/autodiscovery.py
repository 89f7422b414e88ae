"""Feed autodiscovery: the feeds a web page announces, and the paths sites commonly use. Reads
a page it is given; the pre-processor's `new_feed` fetches pages and candidates.

The page is untrusted: its ``<base href>`` is ignored (links resolve against the page's own URL,
so a page cannot point "relative" links at an internal host), only http(s) results are returned,
and every result must still pass the SSRF policy before anything fetches it.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from alt.feeds.sanitize import limit_nesting
from alt.feeds.urls import safe_url

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "application/x.atom+xml",
        "application/x-atom+xml",
    }
)
MAX_DISCOVERED = 20
MAX_PAGE_BYTES = 5 * 1024 * 1024

# Tried in this order when a page announces nothing (root-relative, so the caller joins them
# with the site's origin; ``common_feed_urls`` does that).
COMMON_FEED_PATHS: tuple[str, ...] = (
    "/feed",
    "/feed/",
    "/rss",
    "/rss.xml",
    "/atom.xml",
    "/feed.xml",
    "/index.xml",
    "/feed.json",
    "/atom",
    "/index.rss",
    "/rss/",
    "/feeds/posts/default",
    "/?feed=rss2",
    "/blog/feed",
    "/blog/rss.xml",
)


def discover_feed_links(html: bytes, page_url: str) -> list[str]:
    """The feed URLs ``<link rel="alternate" type="…">`` elements of ``html`` announce.

    In document order, deduplicated, absolute (against ``page_url``, never the page's
    ``<base>``), http(s) only, at most 20.
    """
    base = safe_url(page_url)
    if base is None:
        return []
    text = html[:MAX_PAGE_BYTES].decode("utf-8", errors="replace")
    tree = LexborHTMLParser(limit_nesting(text))
    found: dict[str, None] = {}
    for node in tree.css("link[href]"):
        rel = (node.attributes.get("rel") or "").lower().split()
        if "alternate" not in rel and "feed" not in rel:
            continue
        kind = (node.attributes.get("type") or "").partition(";")[0].strip().lower()
        if kind not in FEED_TYPES and "feed" not in rel:
            continue
        url = safe_url(node.attributes.get("href") or "", base)
        if url is not None and url != base:
            found[url] = None
            if len(found) >= MAX_DISCOVERED:
                break
    return list(found)


def common_feed_urls(page_url: str) -> list[str]:
    """``COMMON_FEED_PATHS`` on the origin of ``page_url`` (empty if it is not http(s))."""
    base = safe_url(page_url)
    if base is None:
        return []
    return [url for path in COMMON_FEED_PATHS if (url := safe_url(path, base)) is not None]
