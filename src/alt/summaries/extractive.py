"""The extractive summariser: no model, only the article's own sentences.

A TextRank over sentences (Mihalcea & Tarau 2004): sentences are TF-IDF vectors (words, or
character bigrams for scripts written without spaces), edges are cosine similarities, PageRank
finds the sentences the rest of the article agrees with; the lead sentence gets a small bonus
(news puts the gist first). The chosen sentences are returned in their original order, so the
summary reads as the article does and every statement in it is the article's own.

Written here rather than taken from a library: sumy needs NLTK's tokenizer data, which is a
download at run time, and the others need a model.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

MAX_SENTENCES = 400
DAMPING = 0.85
ITERATIONS = 40
LEAD_BONUS = 0.15

# Sentence ends in Latin and CJK scripts; a newline ends a sentence too (headings, list items).
_SENTENCE_END = re.compile(
    r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+|(?<=[\u3002\uff01\uff1f])[\u300d\u300f\uff09]*|\n+"
)
_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
        "not",
        "no",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "may",
        "der",
        "die",
        "das",
        "und",
        "ist",
        "ein",
        "eine",
        "zu",
        "den",
        "mit",
        "von",
        "le",
        "la",
        "les",
        "et",
        "des",
        "un",
        "une",
        "est",
        "du",
        "en",
        "el",
        "los",
        "las",
        "y",
        "que",
        "del",
        "se",
        "por",
    ]
)


# Text addressed to a model rather than to a reader (an injection attempt in the article) makes
# a poor summary sentence whatever its centrality.
_ADDRESSED_TO_A_MODEL = re.compile(
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) instructions"
    r"|system prompt|developer mode|you are now|reply only|respond only|answer with"
    r"|output (?:exactly|this|only)|new instructions|\[/?INST\]|<\|im_|\bPWNED"
    r"|^(?:human|assistant|system|user)\s*:",
    re.IGNORECASE | re.MULTILINE,
)


def _plausibility(sentence: str) -> float:
    if _ADDRESSED_TO_A_MODEL.search(sentence):
        return 0.05
    symbols = sum(1 for c in sentence if not (c.isalnum() or c.isspace()))
    if symbols > 0.15 * len(sentence):
        return 0.3
    # A very short fragment (a dateline, a byline) is rarely a good summary sentence.
    return min(1.0, len(sentence) / 40)


def sentences(text: str) -> list[str]:
    """`text` split into sentences (Latin and CJK punctuation, and line breaks)."""
    parts = (part.strip() for part in _SENTENCE_END.split(text))
    return [part for part in parts if part]


def _terms(sentence: str) -> list[str]:
    lowered = sentence.lower()
    if _CJK.search(lowered):
        chars = [c for c in lowered if c.isalnum()]
        return [a + b for a, b in itertools.pairwise(chars)]
    return [w for w in _WORD.findall(lowered) if w not in _STOPWORDS and len(w) > 1]


def rank_sentences(parts: list[str]) -> list[int]:
    """Indexes of `parts`, most central first."""
    parts = parts[:MAX_SENTENCES]
    n = len(parts)
    if n <= 1:
        return list(range(n))
    bags = [Counter(_terms(p)) for p in parts]
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(bag.keys())
    idf = {term: math.log((1 + n) / (1 + count)) + 1 for term, count in df.items()}
    vectors = [{t: c * idf[t] for t, c in bag.items()} for bag in bags]
    norms = [math.sqrt(sum(v * v for v in vec.values())) or 1.0 for vec in vectors]
    weights: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for i in range(n):
        vi = vectors[i]
        for j in range(i + 1, n):
            vj = vectors[j]
            small, large = (vi, vj) if len(vi) < len(vj) else (vj, vi)
            dot = sum(w * large.get(t, 0.0) for t, w in small.items())
            if dot > 0:
                sim = dot / (norms[i] * norms[j])
                weights[i].append((j, sim))
                weights[j].append((i, sim))
    out_sum = [sum(w for _, w in edges) or 1.0 for edges in weights]
    score = [1.0 / n] * n
    for _ in range(ITERATIONS):
        score = [
            (1 - DAMPING) / n + DAMPING * sum(score[j] * w / out_sum[j] for j, w in weights[i])
            for i in range(n)
        ]
    top = max(score) or 1.0
    final = [
        (s / top + (LEAD_BONUS if i < 2 else 0.0)) * _plausibility(parts[i])
        for i, s in enumerate(score)
    ]
    return sorted(range(n), key=lambda i: (-final[i], i))


def summarize(text: str, max_chars: int = 600, max_sentences: int = 5) -> str:
    """The article's most central sentences, in order, within `max_chars`."""
    parts = sentences(text)
    if not parts:
        return ""
    chosen: list[int] = []
    used = 0
    for index in rank_sentences(parts):
        cost = len(parts[index]) + 1
        if used + cost > max_chars:
            continue
        chosen.append(index)
        used += cost
        if len(chosen) >= max_sentences:
            break
    if not chosen:
        return parts[0][: max_chars - 1].rstrip() + "…"
    return " ".join(parts[i] for i in sorted(chosen))
