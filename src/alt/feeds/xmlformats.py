"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 trees (already parsed safely by ``xmlsafe``) -> RawFeed.

Only reads; every rule about what may be stored lives in ``alt.feeds.parse``. Element names are
looked up in dictionaries keyed by the full ``{namespace}name`` tag, so one pass over an item's
children finds everything (fast on 10,000-item documents).
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable, Iterable, Iterator
from html import escape
from typing import Any

from lxml import etree

from alt.feeds.model import FeedParseError, RawEnclosure, RawEntry, RawFeed, TitleKind

ATOM10 = "http://www.w3.org/2005/Atom"
ATOM03 = "http://purl.org/atom/ns#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RSS10 = "http://purl.org/rss/1.0/"
RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
MEDIA = "http://search.yahoo.com/mrss/"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
XHTML = "http://www.w3.org/1999/xhtml"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RDF_ABOUT = f"{{{RDF}}}about"

_RSS_NAMESPACES = ("", RSS10, RSS090, "http://backend.userland.com/rss2")
_ATOM_NAMESPACES = (ATOM10, ATOM03, "")


def _keys(namespaces: Iterable[str], names: dict[str, str]) -> dict[str, str]:
    return {
        (f"{{{ns}}}{name}" if ns else name): field
        for ns in namespaces
        for name, field in names.items()
    }


_MODULES = {
    f"{{{DC}}}creator": "author",
    f"{{{DC}}}date": "published",
    f"{{{DC}}}subject": "category",
    f"{{{DC}}}language": "language",
    f"{{{DC}}}title": "alt_title",
    f"{{{DC}}}description": "alt_summary",
    f"{{{DCTERMS}}}modified": "updated",
    f"{{{DCTERMS}}}created": "published",
    f"{{{DCTERMS}}}issued": "published",
    f"{{{CONTENT}}}encoded": "content",
    f"{{{ATOM10}}}updated": "updated",
    f"{{{ATOM10}}}published": "published",
    f"{{{ATOM10}}}link": "atom_link",
    f"{{{MEDIA}}}content": "media_content",
    f"{{{MEDIA}}}thumbnail": "media_thumbnail",
    f"{{{MEDIA}}}group": "media_group",
    f"{{{MEDIA}}}description": "alt_summary",
    f"{{{ITUNES}}}summary": "alt_summary",
    f"{{{ITUNES}}}author": "alt_author",
    f"{{{ITUNES}}}image": "itunes_image",
}
_RSS_ITEM = _MODULES | _keys(
    _RSS_NAMESPACES,
    {
        "title": "title",
        "link": "link",
        "description": "summary",
        "guid": "guid",
        "pubDate": "published",
        "author": "author",
        "category": "category",
        "enclosure": "enclosure",
    },
)
_RSS_CHANNEL = _MODULES | _keys(
    _RSS_NAMESPACES,
    {
        "title": "title",
        "link": "link",
        "description": "summary",
        "language": "language",
        "ttl": "ttl",
        "image": "image",
    },
)
_ATOM_ENTRY = _MODULES | _keys(
    _ATOM_NAMESPACES,
    {
        "id": "guid",
        "title": "atom_title",
        "link": "atom_link",
        "content": "atom_content",
        "summary": "atom_summary",
        "published": "published",
        "issued": "published",
        "created": "published",
        "updated": "updated",
        "modified": "updated",
        "author": "atom_author",
        "category": "atom_category",
    },
)
_ATOM_FEED = _MODULES | _keys(
    _ATOM_NAMESPACES,
    {
        "title": "atom_title",
        "subtitle": "atom_summary",
        "tagline": "atom_summary",
        "link": "atom_link",
        "icon": "icon",
        "logo": "logo",
    },
)


def local_name(tag: object) -> str:
    """``name`` of ``{namespace}name`` ("" for comments and other non-element nodes)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _elements(element: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """(tag, child) for each child element."""
    for child in element:
        tag = child.tag
        if isinstance(tag, str):
            yield tag, child


def _text(element: etree._Element) -> str:
    """All the character data of ``element`` (markup inside, if any, is dropped)."""
    if len(element) == 0:
        return element.text or ""
    return "".join(element.itertext())


def _strip_namespaces(element: etree._Element) -> None:
    for node in element.iter():
        if not isinstance(node.tag, str):
            continue
        if node.tag.startswith("{"):
            node.tag = node.tag.rpartition("}")[2]
        for name in [name for name in node.attrib if name.startswith("{")]:
            del node.attrib[name]
    etree.cleanup_namespaces(element)


def _inner_html(element: etree._Element) -> str:
    """``element``'s content as HTML markup: escaped HTML as is, inline XHTML serialised."""
    if len(element) == 0:
        return element.text or ""
    parts = [escape(element.text or "", quote=False)]
    for child in element:
        if not isinstance(child.tag, str):
            continue
        _strip_namespaces(child)
        parts.append(etree.tostring(child, encoding="unicode", method="html", with_tail=False))
        parts.append(escape(child.tail or "", quote=False))
    return "".join(parts)


def _xhtml_inner(element: etree._Element) -> str:
    children = list(_elements(element))
    only_a_div = len(children) == 1 and local_name(children[0][0]) == "div"
    if only_a_div and not (element.text or "").strip():
        return _inner_html(children[0][1])
    return _inner_html(element)


def _atom_text(element: etree._Element) -> tuple[str, TitleKind]:
    """An Atom text construct (1.0 ``type``; 0.3 ``type`` as a MIME type and ``mode``)."""
    kind = (element.get("type") or "text").strip().lower()
    mode = (element.get("mode") or "").strip().lower()
    if kind in ("xhtml", "application/xhtml+xml") or mode == "xml":
        return _xhtml_inner(element), "html"
    value = _inner_html(element) if kind in ("html", "text/html") else _text(element)
    if mode == "base64":
        try:
            value = base64.b64decode(value, validate=False).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            value = ""
    if kind in ("html", "text/html") or mode == "escaped":
        return value, "html"
    return value, "text"


def _media(element: etree._Element, entry: RawEntry, rel: str) -> None:
    url = element.get("url")
    if url:
        entry.enclosures.append(
            RawEnclosure(url, element.get("type"), element.get("fileSize"), rel)
        )


def _item_fields(entry: RawEntry, field: str, child: etree._Element) -> str | None:
    """Fields RSS items and Atom entries share (the modules); returns alternative text fields."""
    if field == "author":
        entry.authors.append(_text(child))
    elif field == "published":
        entry.published = entry.published or _text(child)
    elif field == "updated":
        entry.updated = entry.updated or _text(child)
    elif field == "category":
        entry.categories.append(_text(child))
    elif field == "language":
        entry.language = _text(child)
    elif field == "content":
        entry.content_html = _inner_html(child)
    elif field == "media_content":
        _media(child, entry, "enclosure")
    elif field == "media_thumbnail":
        _media(child, entry, "thumbnail")
    elif field == "media_group":
        for tag, grandchild in _elements(child):
            sub = _MODULES.get(tag)
            if sub in ("media_content", "media_thumbnail", "alt_summary"):
                alternative = _item_fields(entry, sub, grandchild)
                if alternative is not None and entry.summary_html is None:
                    entry.summary_html = alternative
    elif field in ("alt_summary", "alt_title", "alt_author"):
        return _text(child) if field != "alt_summary" else _inner_html(child)
    elif field == "atom_link":
        _atom_link(entry, child)
    return None


def _atom_link(entry: RawEntry, child: etree._Element) -> None:
    href = child.get("href")
    if not href:
        return
    rel = (child.get("rel") or "alternate").strip().lower()
    if rel == "alternate":
        entry.link = entry.link or href
    elif rel == "enclosure":
        entry.enclosures.append(
            RawEnclosure(href, child.get("type"), child.get("length"), "enclosure")
        )


# --- reading a document -----------------------------------------------------------------------

_PARSER_OPTIONS: dict[str, Any] = {
    "recover": True,  # sloppy feeds still give their items
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,  # keep libxml2's default limits (depth, text size)
    "remove_comments": True,
    "remove_pis": True,
    "collect_ids": False,
    "strip_cdata": True,
}
_RSS_ROOTS = frozenset({"rss", "rdf"})
_ITEM_PARENTS = frozenset({"channel", "rss", "RDF"})


def read_xml_feed(data: bytes, sink: Callable[[RawEntry], None]) -> tuple[RawFeed, list[str]]:
    """Stream ``data`` (prepared by ``xmlsafe.prepare_xml``): each item/entry goes to ``sink``
    as soon as it is read and is then dropped from the tree, so memory stays bounded by one
    entry plus the feed-level elements, however many entries there are. Returns the feed-level
    fields and the parser's first complaints. Raises FeedParseError when it is not a feed."""
    context = etree.iterparse(io.BytesIO(data), events=("start", "end"), **_PARSER_OPTIONS)
    root: etree._Element | None = None
    kind = ""
    language: str | None = None
    errors: list[str] = []
    try:
        for event, element in context:
            if root is None:
                root = element
                kind = local_name(root.tag).lower()
                if kind == "html":
                    raise FeedParseError("not a feed: the document is HTML")
                if kind not in _RSS_ROOTS and kind != "feed":
                    raise FeedParseError(
                        f"not a feed: the document's root element is <{kind[:40]}>"
                    )
                language = root.get(XML_LANG)
                continue
            if event != "end":
                continue
            name = local_name(element.tag)
            parent = element.getparent()
            if parent is None:
                continue
            if kind == "feed" and name == "entry" and parent is root:
                sink(_atom_entry(element, language))
            elif kind in _RSS_ROOTS and name == "item" and local_name(parent.tag) in _ITEM_PARENTS:
                sink(_rss_item(element))
            else:
                continue
            element.clear(keep_tail=True)
            parent.remove(element)
    except etree.XMLSyntaxError as exc:
        errors.append(str(exc))
    errors = [f"line {e.line}: {e.message}" for e in list(context.error_log)[:3]] or errors
    if root is None:
        detail = f" ({errors[0]})" if errors else ""
        raise FeedParseError(f"not a feed: the document is not well-formed XML{detail}")
    feed = _atom_metadata(root) if kind == "feed" else _rss_metadata(root)
    return feed, errors


# --- RSS --------------------------------------------------------------------------------------


def _rss_metadata(root: etree._Element) -> RawFeed:
    """The channel of RSS 0.9x/2.0 (``<rss>``) or RSS 0.90/1.0 (``<rdf:RDF>``)."""
    feed = RawFeed(kind="rss", base=root.get(XML_BASE))
    channel = next((c for tag, c in _elements(root) if local_name(tag) == "channel"), None)
    alternatives: dict[str, str] = {}
    if channel is not None:
        feed.base = channel.get(XML_BASE) or feed.base
        for tag, child in _elements(channel):
            field = _RSS_CHANNEL.get(tag)
            if field is None:
                continue
            if field == "title":
                feed.title = _text(child)
            elif field == "link":
                feed.link = feed.link or _text(child).strip() or None
            elif field == "summary":
                feed.description_html = _inner_html(child)
            elif field == "language":
                feed.language = _text(child)
            elif field == "ttl":
                feed.ttl_minutes = _text(child)
            elif field == "image":
                url = next((c for t, c in _elements(child) if local_name(t) == "url"), None)
                if url is not None:
                    feed.icons.insert(0, _text(url).strip())
            elif field == "itunes_image":
                feed.icons.append(child.get("href") or "")
            elif field in ("alt_title", "alt_summary"):
                alternatives.setdefault(field, _text(child))
    feed.title = feed.title or alternatives.get("alt_title")
    feed.description_html = feed.description_html or alternatives.get("alt_summary")
    return feed


def _rss_item(item: etree._Element) -> RawEntry:
    entry = RawEntry(base=item.get(XML_BASE), guid=item.get(RDF_ABOUT))
    alternatives: dict[str, str] = {}
    for tag, child in _elements(item):
        field = _RSS_ITEM.get(tag)
        if field is None:
            continue
        if field == "title":
            entry.title = _text(child)
        elif field == "link":
            entry.link = entry.link or _text(child)
        elif field == "summary":
            entry.summary_html = _inner_html(child)
        elif field == "guid":
            entry.guid = _text(child)
            permalink = (child.get("isPermaLink") or "").strip().lower()
            entry.permalink = {"true": True, "false": False}.get(permalink)
        elif field == "enclosure":
            url = child.get("url")
            if url:
                entry.enclosures.append(
                    RawEnclosure(url, child.get("type"), child.get("length"), "enclosure")
                )
        else:
            alternative = _item_fields(entry, field, child)
            if alternative is not None:
                alternatives.setdefault(field, alternative)
    if entry.title is None:
        entry.title = alternatives.get("alt_title")
    if entry.summary_html is None:
        entry.summary_html = alternatives.get("alt_summary")
    if not entry.authors and "alt_author" in alternatives:
        entry.authors.append(alternatives["alt_author"])
    return entry


# --- Atom -------------------------------------------------------------------------------------


def _atom_metadata(root: etree._Element) -> RawFeed:
    """The feed-level elements of Atom 1.0 and 0.3 (``<feed>``)."""
    feed = RawFeed(kind="atom", base=root.get(XML_BASE), language=root.get(XML_LANG))
    links = RawEntry()
    logos: list[str] = []
    for tag, child in _elements(root):
        field = _ATOM_FEED.get(tag)
        if field is None:
            continue
        if field == "atom_title":
            feed.title, feed.title_kind = _atom_text(child)
        elif field == "atom_summary":
            value, kind = _atom_text(child)
            feed.description_html = value if kind == "html" else escape(value, quote=False)
        elif field == "atom_link":
            _atom_link(links, child)
        elif field == "icon":
            feed.icons.append(_text(child).strip())
        elif field == "logo":
            logos.append(_text(child).strip())
        elif field == "language":
            feed.language = feed.language or _text(child)
    feed.link = links.link
    feed.icons.extend(logos)
    return feed


def _atom_entry(element: etree._Element, feed_language: str | None) -> RawEntry:
    entry = RawEntry(base=element.get(XML_BASE), language=element.get(XML_LANG))
    alternatives: dict[str, str] = {}
    for tag, child in _elements(element):
        field = _ATOM_ENTRY.get(tag)
        if field is None:
            continue
        if field == "guid":
            entry.guid = _text(child)
        elif field == "atom_title":
            entry.title, entry.title_kind = _atom_text(child)
        elif field in ("atom_content", "atom_summary"):
            if child.get("src"):
                continue  # out-of-line content is never fetched
            value, kind = _atom_text(child)
            if field == "atom_content":
                if kind == "html":
                    entry.content_html = value
                else:
                    entry.content_text = value
            elif kind == "html":
                entry.summary_html = value
            else:
                entry.summary_text = value
        elif field == "atom_author":
            names = [c for tag, c in _elements(child) if local_name(tag) == "name"]
            entry.authors.extend(_text(name) for name in names)
        elif field == "atom_category":
            label = child.get("label") or child.get("term")
            if label:
                entry.categories.append(label)
        else:
            alternative = _item_fields(entry, field, child)
            if alternative is not None:
                alternatives.setdefault(field, alternative)
    if entry.summary_html is None and entry.summary_text is None:
        entry.summary_html = alternatives.get("alt_summary")
    if entry.title is None and "alt_title" in alternatives:
        entry.title, entry.title_kind = alternatives["alt_title"], "text"
    if not entry.authors and "alt_author" in alternatives:
        entry.authors.append(alternatives["alt_author"])
    entry.language = entry.language or feed_language
    return entry
