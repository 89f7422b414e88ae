"""Per-feed article counts (migration 0006) agree with the articles through every kind of write,
as the writing services' own roles, and start from the articles already there."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from alt.platform import migrate as migrate_module
from alt.platform.migrate import migrate
from alt.services import Database

_COUNTS_AGREE = """
SELECT (SELECT coalesce(jsonb_object_agg(feed_id, n), '{}') FROM
          (SELECT feed_id, count(*) AS n FROM articles GROUP BY feed_id) a)
     = (SELECT coalesce(jsonb_object_agg(feed_id, articles), '{}') FROM feed_article_counts
         WHERE articles <> 0)
"""

# As the pre-processor stores entries: an upsert that inserts some rows and updates others.
_UPSERT = """
INSERT INTO articles (feed_id, entry_hash, title, published_at)
SELECT %(feed)s, sha256(convert_to(g::text, 'UTF8')), %(title)s, now()
  FROM generate_series(1, %(count)s) g
ON CONFLICT (feed_id, entry_hash) DO UPDATE SET title = EXCLUDED.title
"""


def _feeds(conn: psycopg.Connection, count: int) -> list[int]:
    rows = conn.execute(
        "INSERT INTO feeds (url) SELECT 'https://example.org/' || g || '.xml'"
        " FROM generate_series(1, %s) g RETURNING id",
        (count,),
    ).fetchall()
    return [row[0] for row in rows]


def _agree(conn: psycopg.Connection) -> bool:
    row = conn.execute(_COUNTS_AGREE).fetchone()
    assert row is not None
    return bool(row[0])


def test_counts_follow_every_write(create_database: Callable[[], str]) -> None:
    url = create_database()
    migrate(url, Database.APP)
    with psycopg.connect(url, autocommit=True) as conn:
        one, two, three = _feeds(conn, 3)
        conn.execute("SET ROLE alt_pre_processor")
        conn.execute(_UPSERT, {"feed": one, "title": "a", "count": 30})
        conn.execute(_UPSERT, {"feed": one, "title": "b", "count": 40})  # 30 updated, 10 new
        conn.execute(_UPSERT, {"feed": two, "title": "a", "count": 5})
        assert _agree(conn)
        # Retention: one statement across feeds.
        conn.execute(
            "DELETE FROM articles WHERE (feed_id = %s AND title = 'b' AND entry_hash <> "
            "sha256('1')) OR feed_id = %s",
            (one, two),
        )
        assert _agree(conn)
        conn.execute("RESET ROLE; SET ROLE alt_sidecar")
        conn.execute(
            "INSERT INTO articles (feed_id, entry_hash, title, published_at)"
            " VALUES (%s, sha256('x'), 'x', now())",
            (three,),
        )
        conn.execute("RESET ROLE")
        assert _agree(conn)
        # A deleted feed takes its articles and its count with it.
        conn.execute("DELETE FROM feeds WHERE id = %s", (three,))
        assert _agree(conn)
        assert conn.execute("SELECT feed_id FROM feed_article_counts").fetchall() == [
            (one,),
            (two,),
        ]
        with conn.transaction():
            conn.execute("TRUNCATE articles CASCADE")
            assert conn.execute("SELECT count(*) FROM feed_article_counts").fetchone() == (0,)


def test_counts_start_from_the_articles_already_stored(
    create_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = create_database()
    every = migrate_module.migrations_for
    monkeypatch.setattr(
        migrate_module,
        "migrations_for",
        lambda database: [m for m in every(database) if m.version < "0006"],
    )
    migrate(url, Database.APP)
    with psycopg.connect(url, autocommit=True) as conn:
        one, two = _feeds(conn, 2)
        conn.execute(_UPSERT, {"feed": one, "title": "a", "count": 12})
        conn.execute(_UPSERT, {"feed": two, "title": "a", "count": 3})
    monkeypatch.undo()
    assert migrate(url, Database.APP)[0] == "0006"
    with psycopg.connect(url) as conn:
        assert _agree(conn)
        assert conn.execute("SELECT sum(articles) FROM feed_article_counts").fetchone() == (15,)
