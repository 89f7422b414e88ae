"""The list excerpt: visible text only, one line, cut exactly where truncate_text cuts."""

from __future__ import annotations

import random

import pytest

from alt.feeds.excerpt import EXCERPT_CHARS, excerpt
from alt.feeds.sanitize import plain_text, truncate_text


def slow_excerpt(html: str) -> str:
    """The excerpt by the general rule alone: every grapheme walked."""
    return truncate_text(" ".join(plain_text(html[:4000]).split()), EXCERPT_CHARS)


def test_visible_text_on_one_line() -> None:
    html = "<h1>Title</h1><p>First\nline <b>bold</b></p><script>x()</script><p hidden>no</p>"
    assert excerpt(html) == "Title First line bold"
    assert excerpt(None) == excerpt("") == ""


@pytest.mark.parametrize(
    "around_cut",
    [
        "ab",  # plain ASCII: the quick cut
        "a\u0301",  # a combining mark right after the cut
        "e\u0301e\u0301",
        "👨\u200d👩",  # a ZWJ sequence across the cut
        "🇫🇷",  # a regional-indicator pair
        " ",
        "éa",
        "a ",
    ],
)
def test_the_quick_cut_matches_the_grapheme_walk(around_cut: str) -> None:
    for shift in range(-4, 5):
        text = "x" * (EXCERPT_CHARS - 1 + shift) + around_cut + "tail " * 20
        html = f"<p>{text}</p>"
        assert excerpt(html) == slow_excerpt(html), shift


def test_random_text_matches_the_grapheme_walk() -> None:
    alphabet = ["a", "b", " ", "é", "\u0301", "\u200d", "👩", "🇫", "\u093f", "क", "\r", "\n"]
    rng = random.Random(7)
    for _ in range(300):
        html = "<p>" + "".join(rng.choice(alphabet) for _ in range(rng.randint(250, 320))) + "</p>"
        assert excerpt(html) == slow_excerpt(html)
