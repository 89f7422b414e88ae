"""Is a summary supported by its article? Numbers, names and content must be found in it.

Three signals, all cheap and all explained in the result:

* numbers: every number of the summary (digits, decimals, percentages, years; thousands
  separators and trailing zeros normalised) must occur in the article. A small model's most
  damaging invention is a wrong figure, so one unsupported number fails the check.
* names: capitalised words and acronyms (Latin scripts) or runs of katakana/kanji (Japanese,
  Chinese) of the summary must occur in the article; at most `max_unsupported_share` of them may
  be missing (inflection, transliteration).
* content: either the cosine similarity of sentence embeddings of summary and article (with
  ALT_LLM_EMBEDDINGS on: `alt.summaries.embeddings`), or, by default, the lexical support: the
  share of the summary's content words (or character bigrams) found in the article.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from alt.summaries.extractive import _STOPWORDS

Similarity = Callable[[str, str], float]

_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,.\u202f\u00a0 ]*\d%?|(?<![\w.])\d%?")
_LATIN_NAME = re.compile(r"\b[A-Z][\w'\u2019-]*(?:\s+[A-Z][\w'\u2019-]*)*")
_CJK_NAME = re.compile(r"[\u30a0-\u30ff]{2,}|[\u4e00-\u9fff]{2,}")
_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
MIN_LEXICAL_SUPPORT = 0.5


@dataclass
class Grounding:
    grounded: bool
    numbers: int = 0
    unsupported_numbers: list[str] = field(default_factory=list)
    names: int = 0
    unsupported_names: list[str] = field(default_factory=list)
    similarity: float = 0.0
    method: str = "lexical"
    reason: str = ""


def _norm_number(raw: str) -> str:
    value = raw.strip().replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    percent = value.endswith("%")
    value = value.rstrip("%").lstrip("+")
    # 1,234,567 / 1.234.567 (thousands) → 1234567; 3,5 (decimal comma) → 3.5
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", value):
        value = value.replace(",", "")
    elif re.fullmatch(r"-?\d{1,3}(?:\.\d{3}){2,}", value):
        value = value.replace(".", "")
    elif re.fullmatch(r"-?\d+,\d+", value):
        value = value.replace(",", ".")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value + ("%" if percent else "")


def numbers(text: str) -> set[str]:
    found = set()
    for match in _NUMBER.finditer(unicodedata.normalize("NFKC", text)):
        for part in re.split(r"\s+", match.group(0)) if " " in match.group(0) else [match.group(0)]:
            if any(c.isdigit() for c in part):
                found.add(_norm_number(part).rstrip(".,"))
    return {n for n in found if n}


def _number_supported(number: str, article_numbers: set[str]) -> bool:
    if number in article_numbers:
        return True
    bare = number.rstrip("%")
    return bare in article_numbers or f"{bare}%" in article_numbers


def names(text: str) -> set[str]:
    found: set[str] = set()
    for match in _LATIN_NAME.finditer(text):
        for word in match.group(0).split():
            word = re.sub(r"['\u2019]s$", "", word).strip("'\u2019-")
            if len(word) > 1 and word.lower() not in _STOPWORDS:
                found.add(word)
    found.update(_CJK_NAME.findall(text))
    return found


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


_SUFFIX = re.compile(r"(?:ing|ed|es|s|ly|er|ers|ion|ions)$")


def _stem(word: str) -> str:
    """A crude, language-blind stem: enough to match "voted" with "vote"."""
    if len(word) > 4:
        word = _SUFFIX.sub("", word)
    return word[:6]


def lexical_support(summary: str, article: str) -> float:
    """Share of the summary's content words (or CJK bigrams) that the article has."""
    if _CJK.search(summary):

        def grams(s: str) -> set[str]:
            chars = [c for c in s if c.isalnum()]
            return {a + b for a, b in itertools.pairwise(chars)}

        wanted, have = grams(summary), grams(article)
    else:
        wanted = {_stem(w) for w in _words(summary) if w not in _STOPWORDS and len(w) > 2}
        have = {_stem(w) for w in _words(article)}
    if not wanted:
        return 1.0
    return len(wanted & have) / len(wanted)


def check(
    summary: str,
    article: str,
    *,
    similarity: Similarity | None = None,
    min_similarity: float = 0.35,
    max_unsupported_share: float = 0.34,
) -> Grounding:
    article_numbers = numbers(article)
    summary_numbers = numbers(summary)
    bad_numbers = sorted(n for n in summary_numbers if not _number_supported(n, article_numbers))
    article_words = _words(article)
    article_lower = article.lower()
    summary_names = names(summary)
    bad_names = sorted(
        name
        for name in summary_names
        if name.lower() not in article_words and name.lower() not in article_lower
    )
    if similarity is not None:
        score, method, floor = similarity(summary, article), "embedding", min_similarity
    else:
        score, method, floor = lexical_support(summary, article), "lexical", MIN_LEXICAL_SUPPORT
    result = Grounding(
        grounded=True,
        numbers=len(summary_numbers),
        unsupported_numbers=bad_numbers,
        names=len(summary_names),
        unsupported_names=bad_names,
        similarity=round(score, 3),
        method=method,
    )
    if bad_numbers:
        result.grounded, result.reason = False, f"numbers not in the article: {bad_numbers[:5]}"
    elif summary_names and len(bad_names) / len(summary_names) > max_unsupported_share:
        result.grounded, result.reason = False, f"names not in the article: {bad_names[:5]}"
    elif score < floor:
        result.grounded, result.reason = False, f"{method} similarity {score:.2f} < {floor}"
    return result
