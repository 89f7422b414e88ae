"""Retention: per feed, articles older than the maximum age and beyond the maximum count go,
except starred ones, which are never purged. Runs hourly as a job on the pre-processor queue.

Retention is final. Every article it deletes leaves a tombstone (its feed and entry hash) in the
same statement, so the two commit together, and a fetch never stores an entry with a tombstone
again (`store`): a feed that still serves a purged item does not bring it back as unread.
A tombstone lives while its feed serves the entry; once full fetches of the feed have left it
out for TOMBSTONE_GRACE, it goes as well. (A fetch storing the very entry while it is purged
does not see the tombstone yet and stores it again, once: the next run purges it again.)"""

from __future__ import annotations

from datetime import timedelta

from alt.platform.db import Connection
from alt.platform.logging import get_logger
from alt.preprocessor.settings import IngestSettings

log = get_logger(__name__)

# How long a feed must have stopped serving an entry before its tombstone is forgotten. Feeds
# drop an item and serve it again (a truncated or stale copy, a list it re-enters) within days;
# a month covers that at ~100 bytes a tombstone. A tombstone forgotten too early costs an item
# that is back until the next run purges it again, never more.
TOMBSTONE_GRACE = timedelta(days=30)

# A feed's own limits override the defaults. Starred articles are neither deleted nor counted
# against the limit, and the newest `max_articles` of the rest always stay. The tombstones'
# rowcount is the articles deleted (one each; one already there is renewed, never doubled).
_PURGE = """
WITH limits AS (
    SELECT id AS feed_id,
           COALESCE(retention_max_age, make_interval(days => %(max_age_days)s)) AS max_age,
           COALESCE(retention_max_articles, %(max_articles)s) AS max_articles
      FROM feeds
),
ranked AS (
    SELECT a.id, a.published_at, l.max_age, l.max_articles,
           row_number() OVER (PARTITION BY a.feed_id ORDER BY a.published_at DESC, a.id DESC) AS n
      FROM articles a JOIN limits l USING (feed_id)
     WHERE NOT EXISTS (SELECT 1 FROM favorites f WHERE f.article_id = a.id)
),
gone AS (
    DELETE FROM articles WHERE id IN (
        SELECT id FROM ranked WHERE n > max_articles OR published_at < now() - max_age
    )
    RETURNING feed_id, entry_hash
)
INSERT INTO entry_tombstones (feed_id, entry_hash)
SELECT feed_id, entry_hash FROM gone
ON CONFLICT (feed_id, entry_hash) DO UPDATE SET purged_at = now(), unserved_since = NULL
"""

_FORGET = "DELETE FROM entry_tombstones WHERE unserved_since < now() - %(grace)s"


async def purge(conn: Connection, policy: IngestSettings) -> int:
    """Delete what is past retention, leaving tombstones, and forget the tombstones of entries
    their feeds stopped serving long ago; return the articles deleted."""
    purged = await conn.execute(
        _PURGE,
        {
            "max_age_days": policy.retention_max_age_days,
            "max_articles": policy.retention_max_articles,
        },
    )
    forgotten = await conn.execute(_FORGET, {"grace": TOMBSTONE_GRACE})
    if forgotten.rowcount:
        log.info("tombstones_forgotten", count=forgotten.rowcount)
    return purged.rowcount
