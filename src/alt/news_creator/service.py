"""The news-creator service: what it serves today and what it does not do yet."""

from __future__ import annotations

from alt.config import Settings
from alt.platform.http_app import ServiceParts


def parts(settings: Settings) -> ServiceParts:
    return ServiceParts(
        not_built=[
            "Ollama-compatible API",
            "summaries (/api/v1/summarize)",
        ],
    )
