"""What a parsed feed looks like, and the raw shape the format readers fill in before the
common rules (identity, dates, limits, sanitising) turn it into that."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

FeedKind = Literal["rss", "atom", "json"]


class FeedParseError(ValueError):
    """The document is not a feed we can read; the message says why, for a person. It starts
    with "not a feed" when the document is not a feed at all (HTML, not XML or JSON, another
    kind of XML); otherwise it is a feed that cannot be read (refused entities, an invalid JSON
    Feed, a parser that failed or ran out of time on it)."""

    @property
    def not_a_feed(self) -> bool:
        return str(self).startswith("not a feed")


# What the parser returns is a NamedTuple, not a dataclass: it crosses a process boundary (the
# parser workers), and tuples pickle in C, where slotted dataclasses call Python per object
# (4x the cost each way).
class ParsedEntry(NamedTuple):
    entry_hash: bytes  # sha256: guid, else link, else title+content (32 bytes)
    guid: str | None  # trimmed; None when absent or longer than 2,048 bytes (then only hashed)
    url: str | None  # absolute http(s), at most 2,048 bytes
    title: str  # plain text, at most 1,000 characters
    author: str | None  # plain text, at most 1,000 characters
    content_html: str  # sanitised, at most 512 KiB
    summary_text: str  # plain text of the content, invisible characters removed
    excerpt: str  # the start of summary_text on one line, for lists (alt.feeds.excerpt)
    published_at: datetime  # UTC; never in the future, never before 1990
    updated_at: datetime | None  # UTC, same rules; None when the feed gives none
    enclosures: list[dict[str, Any]]  # {"url", "mime_type", "length", "rel"}, http(s) only
    categories: list[str]  # plain text
    content_hash: bytes  # sha256 of the normalised summary_text (or title)
    language: str | None  # a BCP 47-looking tag, at most 35 characters


class ParsedFeed(NamedTuple):
    kind: FeedKind
    title: str
    site_url: str | None
    description: str | None
    language: str | None
    ttl_seconds: int | None
    icon_url: str | None
    entries: list[ParsedEntry]
    warnings: list[str]


# --- the readers' raw output ------------------------------------------------------------------

TitleKind = Literal["text", "html", "loose"]


@dataclass(slots=True)
class RawEnclosure:
    url: str
    mime_type: str | None = None
    length: str | int | None = None
    rel: str = "enclosure"


@dataclass(slots=True)
class RawEntry:
    guid: str | None = None
    permalink: bool | None = None  # RSS guid isPermaLink, when stated
    link: str | None = None
    title: str | None = None
    # text: as is; html: markup to reduce to text; loose (RSS, JSON): text in which
    # double-escaped references (&amp;amp;, &#8217;) are decoded once.
    title_kind: TitleKind = "loose"
    content_html: str | None = None
    content_text: str | None = None
    summary_html: str | None = None
    summary_text: str | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    published: str | None = None
    updated: str | None = None
    enclosures: list[RawEnclosure] = field(default_factory=list)
    language: str | None = None
    base: str | None = None  # xml:base of the entry (resolved later)


@dataclass(slots=True)
class RawFeed:
    kind: FeedKind
    title: str | None = None
    title_kind: TitleKind = "loose"
    link: str | None = None
    description_html: str | None = None
    language: str | None = None
    ttl_minutes: str | None = None
    icons: list[str] = field(default_factory=list)  # candidates, best first
    base: str | None = None
    entries: list[RawEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
