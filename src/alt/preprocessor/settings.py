"""Ingestion settings (ALT_INGEST_*: `settings.ingest`)."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

from alt.platform.sections import section


class IngestSettings(BaseModel):
    """The pre-processor's feed fetching: how often feeds are checked, how hard we back off,
    how much we keep. Times are in seconds. A feed is checked no more often than its publisher
    asks (TTL, max-age) and at least daily by default."""

    model_config = section("ALT_INGEST_")

    interval_s: int = Field(default=3600, ge=60, description="normal time between checks")
    min_interval_s: int = Field(default=300, ge=1, description="shortest time between checks")
    max_interval_s: int = Field(
        default=86_400, ge=60, description="longest time between checks, and longest back-off"
    )
    error_backoff_s: int = Field(default=300, ge=1, description="first wait after a failure")
    concurrency: int = Field(default=256, ge=1, description="feeds fetched at once")
    body_budget_mib: int = Field(
        default=64, ge=1, description="fetched feeds waiting to be parsed and stored, in MiB"
    )
    claim_batch: int = Field(default=250, ge=1, description="due feeds claimed at once")
    parse_workers: int = Field(
        default_factory=lambda: min(os.cpu_count() or 1, 4),
        ge=0,
        description="processes that parse feeds (0: a thread of the fetcher); default: one per "
        "core, at most 4",
    )
    parse_cpu_budget_s: float = Field(
        default=5.0, gt=0, description="CPU seconds a worker may spend on one feed"
    )
    lease_s: int = Field(default=600, ge=10, description="a claimed feed is ours this long")
    idle_poll_s: float = Field(
        default=30.0, gt=0, description="longest wait for due feeds when nothing wakes the fetcher"
    )

    retention_max_age_days: int = Field(
        default=365, ge=1, description="articles older than this go (unless starred)"
    )
    retention_max_articles: int = Field(
        default=5000, ge=1, description="articles kept per feed, starred ones besides"
    )
