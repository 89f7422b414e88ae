"""Article text made ready for a model: data, never instructions.

* `article_text` turns stored HTML or text into what a reader sees: hidden elements
  (`display:none`, `hidden`, `font-size:0`…), comments, scripts, `alt`/`title` attributes and the
  head are dropped (`alt.feeds.sanitize.plain_text`), then zero-width, bidi and Unicode TAG
  characters (U+E0000-E007F) are removed (`strip_invisible`).
* `defang` makes the text unable to leave its delimited block or to speak as a chat role: angle
  brackets become single guillemets, so neither `</article>` nor `<|im_start|>` nor
  `<start_of_turn>` survives, and `[INST]`/`<<SYS>>` markers are broken up.
* `fit` keeps the text within a budget: whole when it fits, otherwise the lead sentences and
  then the highest-ranked ones (extractive condensation, in the original order) — a long article
  keeps its beginning and its gist instead of being cut mid-sentence.
* `content_hash` is the cache key: sha256 of the prepared text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from alt.feeds.sanitize import clean_text, plain_text, strip_invisible
from alt.summaries.extractive import rank_sentences, sentences

_LOOKS_LIKE_HTML = re.compile(r"<[a-zA-Z!/][^>]*>|&[a-zA-Z#][a-zA-Z0-9]{1,10};")
_TEMPLATE_MARKERS = re.compile(
    r"\[/?INST\]|<<\s*/?SYS\s*>>|\[/?SYSTEM\]|###\s*(?:Instruction|Response|System)\s*:",
    re.IGNORECASE,
)


def article_text(content: str) -> str:
    """The visible text of `content` (HTML or plain text), invisible characters removed."""
    text = plain_text(content) if _LOOKS_LIKE_HTML.search(content) else content
    return clean_text(strip_invisible(text), multiline=True)


def defang(text: str) -> str:
    """`text` that cannot close its data block or forge chat-template tokens."""
    text = text.replace("<", "\u2039").replace(">", "\u203a")
    return _TEMPLATE_MARKERS.sub(
        lambda m: (
            m.group(0)
            .replace("[", "(")
            .replace("]", ")")
            .replace("<<", "((")
            .replace(">>", "))")
            .replace("###", "#")
        ),
        text,
    )


def content_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def fit(text: str, budget: int, measure: Callable[[str], int] = len, lead: int = 3) -> str:
    """`text` whole if `measure(text) <= budget`, else a condensation within the budget: the
    first `lead` sentences, then the best-ranked others, in their original order."""
    if measure(text) <= budget:
        return text
    parts = sentences(text)
    ranked = rank_sentences(parts)
    order = list(range(min(lead, len(parts)))) + [i for i in ranked if i >= lead]
    chosen: set[int] = set()
    used = 0
    for index in order:
        cost = measure(parts[index]) + 1
        if used + cost > budget:
            continue
        chosen.add(index)
        used += cost
    if not chosen:  # one enormous sentence: cut it
        return _cut(parts[0] if parts else text, budget, measure)
    return "\n".join(parts[i] for i in sorted(chosen))


def _cut(text: str, budget: int, measure: Callable[[str], int]) -> str:
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if measure(text[:mid]) <= budget:
            low = mid
        else:
            high = mid - 1
    return text[:low]
