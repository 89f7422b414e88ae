"""Full text of article pages: readable HTML (trafilatura), sanitised like feed content, its
plain text, and metadata (title, author, date, lead image, language). Pure functions; the loop
that claims articles and fetches pages is in `extraction_loop.py`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import trafilatura
from trafilatura.utils import decode_file

from alt.feeds.sanitize import clean_text, plain_text, sanitize_html, visible_html
from alt.feeds.urls import safe_url
from alt.summaries.lang import detect

MIN_TEXT_CHARS = 250
MAX_PAGE_BYTES = 2 * 1024 * 1024
"""Pages beyond this are cut before extraction: the article is at the start, and extraction
time grows with the page."""
MAX_STORED_CHARS = 500_000

# Pages that answer 200 but are not the article: a short text that says so.
_ERROR_PAGE = re.compile(
    r"\b(page not found|404|access denied|forbidden|enable javascript|are you a robot|"
    r"captcha|subscribe to (continue|read)|this content is not available)\b",
    re.IGNORECASE,
)


class NotExtractable(Exception):
    """The page holds no article text worth keeping; the message says why."""


@dataclass(frozen=True)
class Extracted:
    html: str
    text: str
    metadata: dict[str, Any]


def extract_article(page: bytes, url: str) -> Extracted:
    # Only what a reader sees goes on: text hidden from people is for machines, and often an
    # instruction to the model that will summarise it.
    visible = visible_html(decode_file(page[:MAX_PAGE_BYTES]))
    html = trafilatura.extract(
        visible,
        url=url,
        output_format="html",
        include_images=True,
        include_links=True,
        include_tables=True,
        include_comments=False,
        favor_precision=True,
    )
    if not html:
        raise NotExtractable("no article text found on the page")
    safe_html = sanitize_html(html, url)
    text = plain_text(safe_html)
    if len(text) < MIN_TEXT_CHARS:
        raise NotExtractable(f"the text is too short ({len(text)} characters)")
    if len(text) < 2000 and _ERROR_PAGE.search(text[:500]):
        raise NotExtractable("the page looks like an error or a wall, not the article")
    return Extracted(
        safe_html[:MAX_STORED_CHARS], text[:MAX_STORED_CHARS], _metadata(visible, url, text)
    )


def _metadata(page: str, url: str, text: str) -> dict[str, Any]:
    meta = trafilatura.extract_metadata(page, default_url=url)
    language, _ = detect(text[:5000])
    found = {
        "title": clean_text(meta.title or "")[:1000] or None,
        "author": clean_text(meta.author or "")[:1000] or None,
        "published": meta.date or None,
        "image": safe_url(meta.image, url) if meta.image else None,
        "site_name": clean_text(meta.sitename or "")[:200] or None,
        "language": language,
    }
    return {key: value for key, value in found.items() if value}
