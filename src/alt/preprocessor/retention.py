"""Retention: per feed, articles older than the maximum age and beyond the maximum count go,
except starred ones, which are never purged. Runs hourly as a job on the pre-processor queue."""

from __future__ import annotations

from alt.platform.db import Connection
from alt.preprocessor.settings import IngestSettings

# A feed's own limits override the defaults. Starred articles are neither deleted nor counted
# against the limit, and the newest `max_articles` of the rest always stay.
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
)
DELETE FROM articles WHERE id IN (
    SELECT id FROM ranked WHERE n > max_articles OR published_at < now() - max_age
)
"""


async def purge(conn: Connection, policy: IngestSettings) -> int:
    cursor = await conn.execute(
        _PURGE,
        {
            "max_age_days": policy.retention_max_age_days,
            "max_articles": policy.retention_max_articles,
        },
    )
    return cursor.rowcount
