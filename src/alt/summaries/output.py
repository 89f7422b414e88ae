"""Model output made safe to store: plain text, no markup, no links, no role tokens, capped.

Containment must hold even when the model obeys an injection (docs/SECURITY.md LLM-02), so
nothing here trusts the model: HTML tags go (their text stays), Markdown images go whole,
Markdown links keep only their text, bare URLs and `javascript:`/`data:` schemes go, role and
chat-template tokens and `<think>` blocks go, preambles such as "Summary:" go, and the result is
cut at a sentence (or grapheme) boundary within the output cap.
"""

from __future__ import annotations

import html
import re

from alt.feeds.sanitize import clean_text, strip_invisible, truncate_text
from alt.summaries.extractive import sentences

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_ROLE_TOKENS = re.compile(
    r"<\|[^|>]{0,40}\|>|</?s>|<(?:start|end)_of_turn>(?:user|model|assistant|system)?"
    r"|\[/?INST\]|<<\s*/?SYS\s*>>",
    re.IGNORECASE,
)
_MD_IMAGE = re.compile(r"!\[[^\]]{0,500}\]\([^)]{0,2000}\)|!\[[^\]]{0,500}\]\[[^\]]{0,200}\]")
_MD_LINK = re.compile(r"\[([^\]]{0,500})\]\([^)]{0,2000}\)")
_MD_REF_DEF = re.compile(r"^\s*\[[^\]]{1,200}\]:\s*\S+.*$", re.MULTILINE)
_MD_REF_LINK = re.compile(r"\[([^\]]{1,500})\]\[[^\]]{0,200}\]")
_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|$)", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,2000}>|<!--.*?(?:-->|$)", re.DOTALL)
_URL = re.compile(
    r"(?:\b(?:https?|ftp|javascript|data|vbscript|file):|\bwww\.)[^\s<>\"'`)\]]*",
    re.IGNORECASE,
)
_AUTOLINK = re.compile(r"<[^<>\s]{1,2000}>")
_MD_MARKUP = re.compile(r"(?m)^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)|\*\*|__|`+|~~")
_PREAMBLE = re.compile(
    r"^\s*(?:(?:here\s+is|here's)\s+(?:a|the|your)\s+(?:\w+\s+){0,3}summary[^:\n]{0,40}:"
    r"|(?:summary|tl;?dr|要約|まとめ|résumé|zusammenfassung|resumen)\s*[:\uff1a])\s*",
    re.IGNORECASE,
)


def clean_output(raw: str, cap: int) -> str:
    """`raw` model output as plain text of at most `cap` characters."""
    text = _THINK.sub(" ", raw)
    text = _ROLE_TOKENS.sub(" ", text)
    text = _SCRIPT_STYLE.sub(" ", text)
    text = _MD_IMAGE.sub(" ", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_REF_DEF.sub(" ", text)
    text = _MD_REF_LINK.sub(r"\1", text)
    text = _TAG.sub(" ", text)
    # Entities are decoded once and any tag they formed is removed again: "&lt;img&gt;" must
    # not come back as markup in a renderer that (wrongly) unescapes.
    text = html.unescape(text)
    text = _SCRIPT_STYLE.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = _AUTOLINK.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _MD_MARKUP.sub("", text)
    text = text.replace("<", "\u2039").replace(">", "\u203a")
    text = clean_text(strip_invisible(text), multiline=True)
    text = _PREAMBLE.sub("", text)
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return cap_text(text, cap)


def cap_text(text: str, cap: int) -> str:
    """`text` within `cap` characters: whole sentences if possible, else a grapheme-safe cut."""
    if len(text) <= cap:
        return text
    kept = ""
    for sentence in sentences(text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > cap:
            break
        kept = candidate
    if len(kept) >= cap // 2:
        return kept
    return truncate_text(text, cap)
