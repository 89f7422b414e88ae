"""The excerpt a list shows for an article: the start of its feed content as one line of plain
text, cut on a grapheme boundary.

Made once when an entry is stored (`articles.excerpt`, from the plain text the parser already
made), not on every list request: turning HTML into text and cutting it on graphemes was most of
the list route's CPU time. Rows stored before that column existed have no excerpt; the list makes
theirs from the stored HTML with `excerpt`, by the same rule.
"""

from __future__ import annotations

from alt.feeds.sanitize import plain_text, truncate_text

EXCERPT_CHARS = 280
# Only the start of the content is read: enough HTML for a few hundred characters of text,
# without parsing (or, for old rows, dragging through every list) whole articles.
EXCERPT_SOURCE_CHARS = 4000
ELLIPSIS = "…"


def excerpt(html: str | None) -> str:
    if not html:
        return ""
    return excerpt_of_text(plain_text(html[:EXCERPT_SOURCE_CHARS]))


def excerpt_of_text(plain: str) -> str:
    """The excerpt of text already made plain (a parsed entry's `summary_text`)."""
    text = " ".join(plain[:EXCERPT_SOURCE_CHARS].split())
    cut = EXCERPT_CHARS - len(ELLIPSIS)
    if len(text) > EXCERPT_CHARS and text[cut - 1 : cut + 1].isascii():
        # Two ASCII characters are always separate graphemes (UAX #29; CR LF, the exception,
        # cannot occur in collapsed whitespace), so this is truncate_text's cut without walking
        # every grapheme before it, which cost more than making the text.
        return text[:cut].rstrip() + ELLIPSIS
    return truncate_text(text, EXCERPT_CHARS, ELLIPSIS)
