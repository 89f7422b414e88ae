"""The alt-backend service: the reader's API, scoped to the user of each request.

Built today: subscriptions (subscribe with discovery through the pre-processor, list, show,
rename, move, unsubscribe, refresh now), categories, OPML import and export, article lists and
detail, read state and stars, unread counts, stats (once and as a stream), and the purge of a
deleted user's data for auth-service. `not_built` lists what is still missing.
"""

from __future__ import annotations

from alt.backend import articles, categories, internal, marks, opml, stats, subscriptions
from alt.config import Settings
from alt.platform.egress import FetchLimits
from alt.platform.http_app import ServiceParts


def parts(settings: Settings) -> ServiceParts:
    # The egress policy (ALT_FETCH_*), to refuse URLs the fetcher would refuse, with the reason.
    limits = FetchLimits()
    return ServiceParts(
        routers=[
            subscriptions.router(limits),
            categories.router(),
            opml.router(limits),
            articles.router(),
            marks.router(),
            stats.router(),
            internal.router(),
        ],
        not_built=[
            "image proxy",
            "tags and search",
        ],
    )
