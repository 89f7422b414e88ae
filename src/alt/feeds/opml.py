"""OPML import and export (subscription lists).

Import reads untrusted files, so: at most 1 MiB and 1,000 feeds; the DOCTYPE and its entities are
ignored (never expanded, never fetched); nesting of any depth is walked without recursion and
folded into one level of categories (the outermost folder, as the schema keeps one level); every
feed URL must be http(s) and at most 2,048 bytes. A bad outline is reported with its reason and
the rest is imported; a URL listed twice is imported once. Whether a URL may be *fetched* (SSRF)
is decided when it is, by the egress policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from alt.feeds.sanitize import clean_text, truncate_text
from alt.feeds.urls import normalise_url, safe_url
from alt.feeds.xmlformats import local_name
from alt.feeds.xmlsafe import XmlSafetyError, decode_document, parse_xml, prepare_xml

MAX_OPML_BYTES = 1024 * 1024
MAX_OUTLINES = 1000
MAX_TITLE = 1000
MAX_CATEGORY = 200


class OpmlError(ValueError):
    """The file cannot be imported at all; the message says why."""


@dataclass(frozen=True, slots=True)
class OpmlSubscription:
    xml_url: str
    title: str
    html_url: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class OpmlRejected:
    title: str
    xml_url: str  # as written in the file (cleaned, cut to 300 characters), for the report
    reason: str


@dataclass(frozen=True, slots=True)
class OpmlImport:
    title: str | None
    subscriptions: list[OpmlSubscription]
    rejected: list[OpmlRejected]
    warnings: list[str]


def _attribute(element: etree._Element, *names: str) -> str:
    for name in names:
        value = element.get(name)
        if value and value.strip():
            return value
    return ""


def _category_name(value: str) -> str | None:
    name = truncate_text(clean_text(value), MAX_CATEGORY, ellipsis="")
    return name.strip() or None


def _category(outline: etree._Element) -> str | None:
    folders = [
        ancestor
        for ancestor in outline.iterancestors()
        if local_name(ancestor.tag) == "outline" and ancestor.get("xmlUrl") is None
    ]
    if folders:
        return _category_name(_attribute(folders[-1], "text", "title"))
    # OPML 2.0 "category": comma-separated slash-delimited paths; the first names the folder.
    first_path = _attribute(outline, "category").split(",")[0]
    segments = [segment for segment in first_path.split("/") if segment.strip()]
    return _category_name(segments[0]) if segments else None


def parse_opml(data: bytes) -> OpmlImport:
    """The subscriptions of an OPML file, and the outlines that were refused (with reasons)."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"the OPML file is larger than {MAX_OPML_BYTES // 1024 // 1024} MiB")
    text, _encoding, warnings = decode_document(data)
    if not text.lstrip("\ufeff \t\r\n").startswith("<"):
        raise OpmlError("not an OPML file: the document is not XML")
    try:
        prepared, prepare_warnings = prepare_xml(text, strict=False)
    except XmlSafetyError as exc:
        raise OpmlError(f"not an OPML file: {exc}") from None
    warnings.extend(prepare_warnings)
    root, errors = parse_xml(prepared)
    if root is None or local_name(root.tag).lower() != "opml":
        raise OpmlError("not an OPML file: the root element is not <opml>")
    if errors:
        warnings.append(f"the OPML is malformed ({errors[0]}); imported what could be read")

    head_title = next(
        (clean_text(_text_of(e)) for e in root.iter() if local_name(e.tag) == "title"), ""
    )
    subscriptions: list[OpmlSubscription] = []
    rejected: list[OpmlRejected] = []
    seen: set[str] = set()
    feeds = 0
    for outline in root.iter():
        if local_name(outline.tag) != "outline":
            continue
        raw_url = next(
            (v for name in ("xmlUrl", "xmlurl", "url") if (v := outline.get(name)) is not None),
            None,
        )
        if raw_url is None:
            continue  # a folder
        feeds += 1
        if feeds > MAX_OUTLINES:
            continue
        title = truncate_text(clean_text(_attribute(outline, "text", "title")), MAX_TITLE)
        shown_url = truncate_text(clean_text(raw_url), 300)
        try:
            xml_url = normalise_url(raw_url)
        except ValueError as exc:
            rejected.append(OpmlRejected(title, shown_url, f"invalid feed URL: {exc}"))
            continue
        if xml_url in seen:
            rejected.append(OpmlRejected(title, shown_url, "duplicate: already in this file"))
            continue
        seen.add(xml_url)
        subscriptions.append(
            OpmlSubscription(
                xml_url=xml_url,
                title=title or xml_url,
                html_url=safe_url(outline.get("htmlUrl")),
                category=_category(outline),
            )
        )
    if feeds > MAX_OUTLINES:
        warnings.append(
            f"only the first {MAX_OUTLINES:,} feeds were read; {feeds - MAX_OUTLINES:,} more "
            "were ignored"
        )
    return OpmlImport(head_title or None, subscriptions, rejected, warnings)


def _text_of(element: etree._Element) -> str:
    return "".join(element.itertext())


def render_opml(
    subscriptions: Iterable[OpmlSubscription], *, title: str = "Alt subscriptions"
) -> bytes:
    """An OPML 2.0 document of ``subscriptions``, one folder per category.

    ``parse_opml(render_opml(x)).subscriptions`` has the same subscriptions as ``x`` (grouped by
    folder, in order of first appearance).
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = clean_text(title)
    body = etree.SubElement(root, "body")
    folders: dict[str, etree._Element] = {}
    for subscription in subscriptions:
        parent = body
        category = _category_name(subscription.category or "")
        if category is not None:
            key = category.lower()
            if key not in folders:
                folders[key] = etree.SubElement(body, "outline", text=category, title=category)
            parent = folders[key]
        name = clean_text(subscription.title) or subscription.xml_url
        attributes = {"type": "rss", "text": name, "title": name, "xmlUrl": subscription.xml_url}
        if subscription.html_url:
            attributes["htmlUrl"] = subscription.html_url
        etree.SubElement(parent, "outline", attributes)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
