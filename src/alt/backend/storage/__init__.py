"""alt-backend's storage: every SQL statement of the reader's API, one module per aggregate.

Each function takes a connection and plain arguments and returns typed rows; none knows HTTP.
The caller says at each call whether the statements run in autocommit
(`alt.platform.db.autocommit`: each stands alone) or together (`alt.platform.db.transaction`);
a function whose statements must go together says so. Every statement that serves a user names
that user's id.
"""

from __future__ import annotations

from alt.backend.storage import articles, categories, feeds, marks, purge, stats, subscriptions
from alt.backend.storage.paging import Page

__all__ = [
    "Page",
    "articles",
    "categories",
    "feeds",
    "marks",
    "purge",
    "stats",
    "subscriptions",
]
