"""One article in, one checked summary out: generate, gate, regenerate once, else extract.

The gate (when ALT_LLM_GATE is on) passes a summary that
1. is in the target language,
2. is grounded (`alt.summaries.grounding`: numbers, names, content similarity), and
3. scores at least ALT_LLM_JUDGE_THRESHOLD (default 24 of 30) with the LLM judge —
   or the judge did not answer: a judge that fails to answer never costs a summary.
A failing summary is generated again once with a stricter instruction; a second failure gives
the article's extractive summary instead, marked `extractive` (engine `extractive`).

Engine failures are not gate failures: they propagate (nothing is made, the caller retries),
except on the second generation, where the extractive summary is the answer.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field

from alt.platform.logging import get_logger
from alt.summaries import extractive, grounding, lang
from alt.summaries.engines import (
    EXTRACTIVE_MODEL,
    Completion,
    Engine,
    EngineError,
    GenOptions,
    Prompt,
)
from alt.summaries.output import clean_output
from alt.summaries.prompts import PROMPT_VERSION, judge_messages, summary_messages
from alt.summaries.settings import LLMSettings
from alt.summaries.text import article_text, fit

log = get_logger(__name__)

PROMPT_OVERHEAD_TOKENS = 300
JUDGE_MAX_TOKENS = 24
JUDGE_INPUT_CHARS = 6_000
EXTRACTIVE_CHARS = 600
_SCORE_TAG = re.compile(r"<score>\s*(\d{1,3})", re.IGNORECASE)
_FIRST_INT = re.compile(r"\d{1,3}")


@dataclass
class SummaryResult:
    summary: str
    engine: str
    model: str
    language: str
    score: int | None
    grounded: bool
    extractive: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_ms: int = 0
    generations: int = 0
    notes: list[str] = field(default_factory=list)


def recipe_version(settings: LLMSettings, model: str) -> str:
    """The cache's prompt_version: prompt version + engine + a digest of everything else that
    changes the output (model, gate, threshold)."""
    recipe = f"{model}|{settings.gate}|{settings.judge_threshold}|{settings.judge_model}"
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    return f"{PROMPT_VERSION}-{settings.engine}-{digest}"


def parse_score(text: str) -> int | None:
    """The judge's 0-30 score, or None when it gave none."""
    match = _SCORE_TAG.search(text) or _FIRST_INT.search(text)
    if match is None:
        return None
    return max(0, min(30, int(match.group(1) if match.re is _SCORE_TAG else match.group(0))))


class Summarizer:
    def __init__(
        self, engine: Engine, settings: LLMSettings, similarity: grounding.Similarity | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.similarity = similarity

    def prepare(self, content: str) -> str:
        """The article text the cache key and the model see: visible text, capped input."""
        text = article_text(content)
        return fit(text, self.settings.max_input_chars)

    async def summarize(
        self, text: str, language: str | None = None, title: str | None = None
    ) -> SummaryResult:
        """Summarise prepared `text` (see prepare) in `language` (None: the article's own)."""
        started = time.monotonic()
        if not text.strip():
            raise EngineError("rejected", "the article has no text")
        target = language or lang.detect(text)[0] or "en"
        if self.engine.kind == "extractive":
            return self._extractive(text, target, started, [], 0, 0)
        budget = self.engine.context_tokens - self.settings.num_predict - PROMPT_OVERHEAD_TOKENS
        fitted = fit(text, max(256, budget), self.engine.count_tokens)
        options = GenOptions(
            max_tokens=self.settings.num_predict,
            temperature=self.settings.temperature,
            max_chars=4 * self.settings.max_output_chars,
            timeout_s=self.settings.timeout_s,
            seed=0,
        )
        notes: list[str] = []
        prompt_tokens = completion_tokens = 0
        for generation in (1, 2):
            try:
                completion = await self.engine.complete(
                    Prompt(summary_messages(fitted, target, title, strict=generation == 2)), options
                )
            except EngineError as exc:
                if generation == 1:
                    raise
                notes.append(f"regeneration failed: {exc.kind}")
                break
            prompt_tokens += completion.prompt_tokens
            completion_tokens += completion.completion_tokens
            if not completion.text.strip():
                if generation == 1:
                    raise EngineError("bad_output", f"{self.engine.kind}: empty answer")
                notes.append("empty regeneration")
                break
            summary = clean_output(completion.text, self.settings.max_output_chars)
            verdict = await self._gate(fitted, summary, target)
            prompt_tokens += verdict.prompt_tokens
            completion_tokens += verdict.completion_tokens
            if verdict.passed or not self.settings.gate:
                if not summary:
                    break
                return SummaryResult(
                    summary=summary,
                    engine=self.engine.kind,
                    model=completion.model,
                    language=target,
                    score=verdict.score,
                    grounded=verdict.grounded,
                    extractive=False,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    generations=generation,
                    notes=notes + verdict.notes,
                )
            notes.extend(verdict.notes)
            log.info("summary_gate_failed", generation=generation, reasons=verdict.notes)
        return self._extractive(
            text, target, started, notes, prompt_tokens, completion_tokens, generations=2
        )

    def _extractive(
        self,
        text: str,
        target: str,
        started: float,
        notes: list[str],
        prompt_tokens: int,
        completion_tokens: int,
        generations: int = 0,
    ) -> SummaryResult:
        summary = clean_output(
            extractive.summarize(text, EXTRACTIVE_CHARS), self.settings.max_output_chars
        )
        if not summary:
            raise EngineError("rejected", "the article has no sentence to extract")
        return SummaryResult(
            summary=summary,
            engine="extractive",
            model=EXTRACTIVE_MODEL,
            language=target,
            score=None,
            grounded=True,
            extractive=True,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            duration_ms=int((time.monotonic() - started) * 1000),
            generations=generations,
            notes=notes,
        )

    async def _gate(self, article: str, summary: str, target: str) -> _Verdict:
        verdict = _Verdict()
        if not summary:
            verdict.passed, verdict.grounded = False, False
            verdict.notes.append("nothing left after cleaning")
            return verdict
        if not lang.same_language(summary, target):
            verdict.passed = False
            verdict.notes.append(f"not in {target}")
        ground = grounding.check(
            summary,
            article,
            similarity=self.similarity,
            min_similarity=self.settings.min_similarity,
            max_unsupported_share=self.settings.max_unsupported_share,
        )
        verdict.grounded = ground.grounded
        if not ground.grounded:
            verdict.passed = False
            verdict.notes.append(f"not grounded: {ground.reason}")
        if not verdict.passed or not self.settings.gate:
            return verdict
        score, judged = await self.judge(article, summary)
        verdict.score = score
        if judged is not None:
            verdict.prompt_tokens += judged.prompt_tokens
            verdict.completion_tokens += judged.completion_tokens
        if score is None:
            verdict.notes.append("judge gave no score")
        elif score < self.settings.judge_threshold:
            verdict.passed = False
            verdict.notes.append(f"judge score {score} < {self.settings.judge_threshold}")
        return verdict

    async def judge(self, article: str, summary: str) -> tuple[int | None, Completion | None]:
        """The judge's score, or None when it fails to answer (never an error)."""
        options = GenOptions(
            max_tokens=JUDGE_MAX_TOKENS,
            temperature=0.0,
            top_p=0.5,
            stop=("</score>",),
            max_chars=400,
            timeout_s=self.settings.judge_timeout_s,
            seed=0,
        )
        article_part = fit(article, JUDGE_INPUT_CHARS)
        try:
            completion = await self.engine.complete(
                Prompt(judge_messages(article_part, summary)),
                options,
                model=self.settings.judge_model,
            )
        except EngineError as exc:
            log.warning("summary_judge_failed", kind=exc.kind, error=exc.message)
            return None, None
        return parse_score(completion.text), completion


@dataclass
class _Verdict:
    passed: bool = True
    grounded: bool = True
    score: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: list[str] = field(default_factory=list)
