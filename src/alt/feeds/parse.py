"""``parse_feed``: the bytes of an RSS, Atom or JSON Feed document -> a ParsedFeed ready to store.

Pure: no network, no database, no clock (the caller says when it fetched). The readers
(``xmlformats``, ``jsonfeed``) only read; this module applies the rules every entry obeys,
whatever its format:

* identity: ``entry_hash`` = sha256 of the trimmed guid, else the link, else title+content (as
  Miniflux does). A guid repeated inside one document gives later copies sha256(guid|link); a
  copy that still collides (same guid and link, or same link, or same text) is the same article
  and is skipped with a warning. Hashes come from the raw strings, so a re-parse, or a newer
  sanitizer, gives the same hashes.
* at most ``MAX_ENTRIES`` (500) entries, the newest (by date, then document order).
* dates in UTC: unknown or before 1990 -> the fetch time; in the future -> the fetch time.
* text fields are plain text (controls stripped, whitespace normalised, cut on a grapheme
  boundary); HTML is sanitised (``alt.feeds.sanitize``); URLs are absolute http(s), resolved
  against ``xml:base`` only when that base is itself http(s), else against the feed's URL.
"""

from __future__ import annotations

import hashlib
import heapq
import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alt.feeds.dates import as_utc, effective_date, parse_date, plausible_date
from alt.feeds.excerpt import excerpt_of_text
from alt.feeds.jsonfeed import read_json_feed
from alt.feeds.model import FeedParseError, ParsedEntry, ParsedFeed, RawEntry, RawFeed, TitleKind
from alt.feeds.sanitize import (
    clean_text,
    plain_text,
    sanitize_html,
    sanitized_text,
    strip_invisible,
    truncate_text,
)
from alt.feeds.urls import safe_url
from alt.feeds.xmlformats import read_xml_feed
from alt.feeds.xmlsafe import XmlSafetyError, decode_document, find_doctype, prepare_xml

__all__ = [
    "MAX_ENTRIES",
    "FeedParseError",
    "ParsedEntry",
    "ParsedFeed",
    "parse_feed",
]

MAX_ENTRIES = 500
MAX_TITLE = 1000
MAX_AUTHOR = 1000
MAX_CATEGORY = 200
MAX_CATEGORIES = 100
MAX_ENCLOSURES = 100
MAX_DESCRIPTION = 10_000
MAX_TEXT = 100_000
MAX_GUID_BYTES = 2048
MAX_TTL_SECONDS = 7 * 24 * 3600
_JSON_TYPES = ("application/feed+json", "application/json", "text/json")
_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")
_REFERENCE = re.compile(r"&(?:#[0-9]{1,8}|#[xX][0-9A-Fa-f]{1,8}|[A-Za-z][A-Za-z0-9]{1,31});")
_MIME = re.compile(r"^[A-Za-z0-9][\w.+-]{0,126}/[\w.+-]{1,126}$")
_HTML_START = re.compile(r"<html[\s>]", re.IGNORECASE)


def parse_feed(
    body: bytes, *, url: str, content_type: str | None, fetched_at: datetime
) -> ParsedFeed:
    """Parse one fetched document. ``url`` is where it came from (the base for relative links);
    ``fetched_at`` replaces unknown dates and caps future ones. Raises FeedParseError."""
    fetched_at = as_utc(fetched_at)
    if not body.strip():
        raise FeedParseError("not a feed: the document is empty")
    text, _encoding, warnings = decode_document(body, content_type)
    start = text.lstrip("\ufeff \t\r\n")
    media_type = (content_type or "").partition(";")[0].strip().lower()
    finisher = _Finisher(url, fetched_at, warnings)
    if start.startswith(("{", "[")) or (media_type in _JSON_TYPES and not start.startswith("<")):
        raw = read_json_feed(start)
        for entry in raw.entries:
            finisher.add(entry)
        warnings.extend(raw.warnings)
    elif start.startswith("<"):
        raw = _read_xml(text, warnings, finisher.add)
    else:
        raise FeedParseError("not a feed: the document is neither XML nor JSON")
    return finisher.feed(raw)


def _read_xml(text: str, warnings: list[str], sink: Callable[[RawEntry], None]) -> RawFeed:
    try:
        doctype = find_doctype(text)
        if doctype is not None and doctype[2].lower() == "html":
            raise FeedParseError("not a feed: the document is HTML")
        if doctype is None and _HTML_START.match(text.lstrip("\ufeff \t\r\n")):
            raise FeedParseError("not a feed: the document is HTML")
        data, prepare_warnings = prepare_xml(text, strict=True)
    except XmlSafetyError as exc:
        raise FeedParseError(str(exc)) from None
    del text
    warnings.extend(prepare_warnings)
    raw, errors = read_xml_feed(data, sink)
    if errors:
        warnings.append(f"the XML is malformed ({errors[0]}); read what could be recovered")
    return raw


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", errors="surrogatepass")).digest()


def _loose_text(value: str) -> str:
    """RSS/JSON text in which character references were escaped once too often."""
    return _REFERENCE.sub(lambda m: html.unescape(m.group(0)), value) if "&" in value else value


def _title_text(value: str | None, kind: TitleKind) -> str:
    if not value:
        return ""
    if kind == "html":
        value = plain_text(value)
    elif kind == "loose":
        value = _loose_text(value)
    return truncate_text(clean_text(value), MAX_TITLE)


def _language(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().replace("_", "-")
    return value if len(value) <= 35 and _LANGUAGE.match(value) else None


def _text_to_html(value: str) -> str:
    paragraphs = re.split(r"\n\s*\n", value.strip())
    return "".join(
        "<p>" + html.escape(p.strip(), quote=False).replace("\n", "<br>") + "</p>"
        for p in paragraphs
        if p.strip()
    )


def _squeeze(value: str) -> str:
    """Whitespace runs inside lines to one space (removing invisible characters leaves some)."""
    return "\n".join(" ".join(line.split()) for line in value.split("\n"))


def _normalised_for_hash(visible: str) -> str:
    """NFKC and one space between words, of text without invisible characters (the text of two
    feeds that differ only in these ways costs one summary)."""
    return " ".join(unicodedata.normalize("NFKC", visible).split())


@dataclass(slots=True)
class _Candidate:
    raw: RawEntry
    index: int
    entry_hash: bytes
    published: datetime | None


class _Finisher:
    """Applies the common rules: entries arrive one by one (``add``), the feed at the end."""

    def __init__(self, url: str, fetched_at: datetime, warnings: list[str]) -> None:
        self.fetched_at = fetched_at
        self.warnings = warnings
        self.document_url = safe_url(url)
        self.base = self.document_url
        self.seen: set[bytes] = set()
        self.count = 0  # entries read
        self.kept = 0  # entries that passed identity
        # The newest MAX_ENTRIES so far: a min-heap on (date, -position).
        self.heap: list[tuple[datetime, int, _Candidate]] = []

    def add(self, raw: RawEntry) -> None:
        index = self.count
        self.count += 1
        candidate = self._identify(raw, index)
        if candidate is None:
            return
        self.kept += 1
        key = (effective_date(candidate.published, self.fetched_at), -index, candidate)
        if len(self.heap) < MAX_ENTRIES:
            heapq.heappush(self.heap, key)
        elif key[:2] > self.heap[0][:2]:
            heapq.heapreplace(self.heap, key)

    def feed(self, raw: RawFeed) -> ParsedFeed:
        # xml:base counts only when it resolves to an http(s) URL; javascript: bases are ignored.
        self.base = safe_url(raw.base, self.document_url) or self.document_url
        language = _language(raw.language)
        if self.kept > MAX_ENTRIES:
            self.warnings.append(f"kept the {MAX_ENTRIES} newest of {self.kept} entries")
        candidates = sorted((item[2] for item in self.heap), key=lambda c: c.index)
        entries = [self._entry(candidate, language) for candidate in candidates]
        description = plain_text(raw.description_html or "")
        ttl: int | None = None
        if raw.ttl_minutes and raw.ttl_minutes.strip().isdigit():
            ttl = min(int(raw.ttl_minutes.strip()) * 60, MAX_TTL_SECONDS) or None
        return ParsedFeed(
            kind=raw.kind,
            title=_title_text(raw.title, raw.title_kind),
            site_url=safe_url(raw.link, self.base),
            description=truncate_text(description, MAX_DESCRIPTION) or None,
            language=language,
            ttl_seconds=ttl,
            icon_url=next(
                (url for icon in raw.icons if (url := safe_url(icon, self.base)) is not None), None
            ),
            entries=entries,
            warnings=self.warnings,
        )

    # identity

    def _identify(self, raw: RawEntry, index: int) -> _Candidate | None:
        guid = (raw.guid or "").strip()
        link = (raw.link or "").strip()
        if guid:
            entry_hash = _sha256(guid)
        elif link:
            entry_hash = _sha256(link)
        else:
            body = raw.content_html or raw.content_text or raw.summary_html or raw.summary_text
            if not (raw.title or "").strip() and not (body or "").strip():
                self.warnings.append(f"entry {index + 1} skipped: it has no content at all")
                return None
            entry_hash = _sha256((raw.title or "") + (body or ""))
        if entry_hash in self.seen and guid:
            entry_hash = _sha256(f"{guid}|{link}")
        if entry_hash in self.seen:
            self.warnings.append(
                f"entry {index + 1} skipped: it repeats an earlier entry of this document"
            )
            return None
        self.seen.add(entry_hash)
        published = parse_date(raw.published) or parse_date(raw.updated)
        return _Candidate(raw, index, entry_hash, published)

    # one entry

    def _entry(self, candidate: _Candidate, feed_language: str | None) -> ParsedEntry:
        raw = candidate.raw
        number = candidate.index + 1
        base = safe_url(raw.base, self.base) or self.base
        guid = (raw.guid or "").strip() or None

        url = safe_url(raw.link, base)
        if url is None and raw.link and raw.link.strip():
            self.warnings.append(f"entry {number}: link dropped (not a usable http(s) URL)")
        guid_is_link = raw.permalink is True or (
            raw.permalink is None and guid is not None and guid.lower().startswith("http")
        )
        if url is None and guid and guid_is_link:
            url = safe_url(guid, base)

        if raw.content_html:
            content_source = raw.content_html
        elif raw.content_text:
            content_source = _text_to_html(raw.content_text)
        elif raw.summary_html:
            content_source = raw.summary_html
        else:
            content_source = _text_to_html(raw.summary_text or "")
        content_html = sanitize_html(content_source, base)
        text = sanitized_text(content_html)
        visible = strip_invisible(text)
        if len(visible) != len(text):
            text = _squeeze(visible)
        text = truncate_text(text, MAX_TEXT)

        title = _title_text(raw.title, raw.title_kind)
        if not title:
            first_line = text.split("\n", 1)[0]
            title = truncate_text(first_line, 100) if first_line else (url or "")

        published = plausible_date(candidate.published, self.fetched_at)
        updated = plausible_date(parse_date(raw.updated), self.fetched_at)
        if guid is not None and len(guid.encode("utf-8", errors="replace")) > MAX_GUID_BYTES:
            guid = None
        return ParsedEntry(
            entry_hash=candidate.entry_hash,
            guid=clean_text(guid) if guid else None,
            url=url,
            title=title,
            author=self._authors(raw.authors),
            content_html=content_html,
            summary_text=text,
            excerpt=excerpt_of_text(text),
            published_at=published or self.fetched_at,
            updated_at=updated,
            enclosures=self._enclosures(raw, base),
            categories=self._categories(raw.categories),
            # The text has no invisible characters already; a title may.
            content_hash=_sha256(_normalised_for_hash(text or strip_invisible(title))),
            language=_language(raw.language) or feed_language,
        )

    @staticmethod
    def _authors(values: list[str]) -> str | None:
        names: dict[str, None] = {}
        for value in values:
            name = clean_text(_loose_text(value))
            # RSS <author> is "email (Name)": keep the name when there is one.
            if name.endswith(")") and "(" in name:
                inside = name[name.rindex("(") + 1 : -1].strip()
                name = inside or name
            if name:
                names[name] = None
        joined = ", ".join(names)
        return truncate_text(joined, MAX_AUTHOR) if joined else None

    @staticmethod
    def _categories(values: list[str]) -> list[str]:
        categories: dict[str, None] = {}
        for value in values:
            category = truncate_text(clean_text(_loose_text(value)), MAX_CATEGORY)
            if category:
                categories[category] = None
            if len(categories) >= MAX_CATEGORIES:
                break
        return list(categories)

    def _enclosures(self, raw: RawEntry, base: str | None) -> list[dict[str, Any]]:
        enclosures: dict[str, dict[str, Any]] = {}
        for enclosure in raw.enclosures:
            url = safe_url(enclosure.url, base)
            if url is None or url in enclosures:
                continue
            mime = (enclosure.mime_type or "").strip().lower()
            length: int | None = None
            if isinstance(enclosure.length, int):
                length = enclosure.length
            elif enclosure.length and enclosure.length.strip().isdigit():
                length = int(enclosure.length.strip())
            if length is not None and not 0 <= length < 2**63:
                length = None
            enclosures[url] = {
                "url": url,
                "mime_type": mime if _MIME.match(mime) else None,
                "length": length,
                "rel": enclosure.rel,
            }
            if len(enclosures) >= MAX_ENCLOSURES:
                break
        return list(enclosures.values())
