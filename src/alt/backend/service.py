"""The alt-backend service: what it serves today and what it does not do yet."""

from __future__ import annotations

from alt.config import Settings
from alt.platform.http_app import ServiceParts


def parts(settings: Settings) -> ServiceParts:
    return ServiceParts(
        not_built=[
            "subscriptions and OPML",
            "article lists, read state and favourites",
            "stats stream",
            "image proxy",
        ],
    )
