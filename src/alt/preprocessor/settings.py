"""Ingestion settings (ALT_INGEST_*): how often feeds are checked, how hard we back off, how
much we keep."""

from __future__ import annotations

import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALT_INGEST_", extra="ignore", frozen=True)

    interval_s: int = Field(default=3600, ge=60, description="normal time between checks")
    min_interval_s: int = Field(default=300, ge=1)
    max_interval_s: int = Field(default=86_400, ge=60)
    error_backoff_s: int = Field(default=300, ge=1, description="first wait after a failure")
    concurrency: int = Field(default=256, ge=1, description="feeds fetched at once")
    body_budget_mib: int = Field(
        default=64, ge=1, description="fetched feeds waiting to be parsed and stored, in MiB"
    )
    claim_batch: int = Field(default=250, ge=1)
    parse_workers: int = Field(
        default_factory=lambda: min(os.cpu_count() or 1, 4),
        ge=0,
        description="processes that parse feeds (0: a thread of the fetcher)",
    )
    parse_cpu_budget_s: float = Field(default=5.0, gt=0, description="per feed, in a worker")
    lease_s: int = Field(default=600, ge=10, description="a claimed feed is ours this long")
    idle_poll_s: float = Field(default=30.0, gt=0)

    retention_max_age_days: int = Field(default=365, ge=1)
    retention_max_articles: int = Field(default=5000, ge=1, description="per feed")
