"""Language identification (py3langid: langid.py's model, shipped in the wheel; no download)."""

from __future__ import annotations

import functools
import re
from typing import Any

MIN_CHARS = 40
MIN_CJK_CHARS = 10
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
CONFIDENT = 0.9


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect(text: str) -> tuple[str | None, float]:
    """(ISO 639-1 code, probability) of `text`, or (None, 0) for text too short to tell."""
    sample = text[:4000]
    if len(sample.strip()) < (MIN_CJK_CHARS if _CJK.search(sample) else MIN_CHARS):
        return None, 0.0
    code, probability = _identifier().classify(sample)
    return str(code), float(probability)


def same_language(text: str, expected: str) -> bool:
    """False only when `text` is confidently in another language than `expected`."""
    code, probability = detect(text)
    if code is None or probability < CONFIDENT:
        return True
    return code == expected.split("-")[0].lower()
