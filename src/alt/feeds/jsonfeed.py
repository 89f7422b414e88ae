"""JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1) through a typed model -> RawFeed.

Types are checked, not coerced (a title must be a string), except where the spec asks readers
to be lenient (a numeric ``id`` is a string). An item that does not fit the model is skipped
with a warning that names the field; the others are read. A lone surrogate (``"\\ud800"`` with
no partner), which JSON allows and no text encoding can store, becomes U+FFFD.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alt.feeds.model import FeedParseError, RawEnclosure, RawEntry, RawFeed


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class JsonAuthor(_Model):
    name: str | None = None
    url: str | None = None
    avatar: str | None = None


class JsonAttachment(_Model):
    url: str
    mime_type: str | None = None
    title: str | None = None
    size_in_bytes: int | float | None = None
    duration_in_seconds: int | float | None = None


class JsonItem(_Model):
    id: str
    url: str | None = None
    external_url: str | None = None
    title: str | None = None
    content_html: str | None = None
    content_text: str | None = None
    summary: str | None = None
    image: str | None = None
    banner_image: str | None = None
    date_published: str | None = None
    date_modified: str | None = None
    author: JsonAuthor | None = None  # 1.0
    authors: list[JsonAuthor] | None = None  # 1.1
    tags: list[str] | None = None
    language: str | None = None
    attachments: list[JsonAttachment] | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, value: Any) -> Any:
        # "If an id is presented as a number, the reader must coerce it to a string."
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


class JsonFeed(_Model):
    version: str
    title: str
    home_page_url: str | None = None
    feed_url: str | None = None
    description: str | None = None
    icon: str | None = None
    favicon: str | None = None
    language: str | None = None
    items: list[Any] = Field(default_factory=list)


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "document"
    return f"{where}: {first['msg']}"


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(document: Any) -> tuple[Any, int]:
    """``document`` with every lone surrogate in its strings (keys too) replaced by U+FFFD, and
    how many there were. json.loads has already joined the escapes that form a pair."""
    replaced = 0

    def repair(value: Any) -> Any:
        nonlocal replaced
        if isinstance(value, str):
            value, count = _SURROGATE.subn("\ufffd", value)
            replaced += count
            return value
        if isinstance(value, list):
            return [repair(item) for item in value]
        if isinstance(value, dict):
            return {repair(key): repair(item) for key, item in value.items()}
        return value

    return repair(document), replaced


def read_json_feed(text: str) -> RawFeed:
    """``text`` (a decoded JSON document) as a RawFeed; FeedParseError if it is not a JSON Feed."""
    surrogates = 0
    try:
        document = json.loads(text)
        if _SURROGATE_ESCAPE.search(text):
            document, surrogates = _without_surrogates(document)
    except RecursionError:
        raise FeedParseError("not a feed: the JSON nests too deeply") from None
    except ValueError as exc:
        raise FeedParseError(f"not a feed: invalid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise FeedParseError("not a feed: the JSON document is not an object")
    version = document.get("version")
    if not isinstance(version, str) or "jsonfeed.org/version/1" not in version:
        raise FeedParseError("not a feed: the JSON document is not a JSON Feed (no version)")
    try:
        top = JsonFeed.model_validate(document)
    except ValidationError as exc:
        raise FeedParseError(f"not a valid JSON Feed: {_describe(exc)}") from None
    feed = RawFeed(
        kind="json",
        title=top.title,
        link=top.home_page_url,
        # JSON Feed descriptions are plain text; the common path reads this field as HTML.
        description_html=escape(top.description, quote=False) if top.description else None,
        language=top.language,
        icons=[url for url in (top.favicon, top.icon) if url],
    )
    if surrogates:
        feed.warnings.append(f"{surrogates} lone surrogates (not characters) replaced with U+FFFD")
    for index, raw_item in enumerate(top.items, start=1):
        try:
            item = JsonItem.model_validate(raw_item)
        except ValidationError as exc:
            feed.warnings.append(f"item {index} skipped: {_describe(exc)}")
            continue
        feed.entries.append(_entry(item))
    return feed


def _entry(item: JsonItem) -> RawEntry:
    authors = item.authors if item.authors is not None else ([item.author] if item.author else [])
    entry = RawEntry(
        guid=item.id,
        link=item.url or item.external_url,
        title=item.title,
        title_kind="loose",
        content_html=item.content_html,
        content_text=item.content_text,
        summary_text=item.summary,
        authors=[author.name for author in authors if author.name],
        categories=list(item.tags or []),
        published=item.date_published,
        updated=item.date_modified,
        language=item.language,
    )
    for attachment in item.attachments or []:
        size = attachment.size_in_bytes
        entry.enclosures.append(
            RawEnclosure(
                attachment.url,
                attachment.mime_type,
                int(size) if size is not None else None,
                "enclosure",
            )
        )
    if item.image:
        entry.enclosures.append(RawEnclosure(item.image, None, None, "thumbnail"))
    return entry
