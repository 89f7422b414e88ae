"""The caller's history per day (`/v1/stats/history`), on the real services, with known data:
articles fetched on known days, reads marked on known days, failed fetches and summaries
recorded by the triggers of migration 0010 as the writers' own roles make them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from alt.backend.storage import history as stored
from alt.platform import migrate as migrate_module
from alt.platform.migrate import migrate
from alt.services import Database
from tests.backend.conftest import BackendStack
from tests.backend.test_articles import reader

TODAY = datetime.now(UTC).date()


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def as_role(stack: BackendStack, role: str, query: str, params: Any = None) -> list[dict[str, Any]]:
    """SQL run as a service's role, as the service would run it (its grants, its triggers)."""
    with psycopg.connect(stack.app_db, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(f"SET ROLE {role}")
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def fetch_articles(stack: BackendStack, feed_id: int, day: date, count: int) -> list[int]:
    """`count` articles the pre-processor stores on `day`."""
    rows = as_role(
        stack,
        "alt_pre_processor",
        "INSERT INTO articles (feed_id, entry_hash, title, published_at, fetched_at)"
        " SELECT %(feed)s, sha256(convert_to(%(tag)s || g, 'UTF8')), 'A', %(at)s, %(at)s"
        "   FROM generate_series(1, %(count)s) g RETURNING id",
        {"feed": feed_id, "tag": uuid.uuid4().hex, "at": at(day), "count": count},
    )
    return [row["id"] for row in rows]


def by_day(history: dict[str, Any]) -> dict[date, dict[str, Any]]:
    return {date.fromisoformat(day["day"]): day for day in history["days"]}


async def test_history_counts_fetches_reads_errors_and_summaries_per_day(
    stack: BackendStack,
) -> None:
    alice = await reader(stack, {None: 2}, articles=0)
    first, second = alice.feeds
    week_ago, yesterday = TODAY - timedelta(days=7), TODAY - timedelta(days=1)
    old = fetch_articles(stack, first, week_ago, 3)
    fetch_articles(stack, second, week_ago, 2)
    recent = fetch_articles(stack, second, yesterday, 4)
    fetch_articles(stack, first, TODAY - timedelta(days=40), 6)  # outside the default 30 days
    # Reads: two a week ago (kept as marked then), one now through the API.
    stack.app(
        "INSERT INTO read_states (user_id, article_id, feed_id, read_at)"
        " SELECT %s, id, feed_id, %s FROM articles WHERE id = ANY(%s)",
        (alice.id, at(week_ago, 23), old[:2]),
    )
    assert (await alice.send("PUT", f"/v1/articles/{recent[0]}/read")).status_code == 204
    # Two failed fetches of one feed, one of the other; a success (back to 0) is no error.
    for feed_id in (first, first, second):
        as_role(
            stack,
            "alt_pre_processor",
            "UPDATE feeds SET error_count = error_count + 1, last_error = 'HTTP 500' WHERE id = %s",
            (feed_id,),
        )
    as_role(stack, "alt_pre_processor", "UPDATE feeds SET error_count = 0 WHERE id = %s", (first,))
    # Summaries: stored ready, or made ready from pending; pending and failed ones are not made.
    summaries = [
        (recent[0], "ready", "ollama", True, False),
        (recent[1], "ready", "ollama", True, False),
        (recent[2], "ready", "extractive", None, True),
        (recent[3], "pending", None, None, False),
        (old[0], "failed", None, None, False),
        (old[1], "ready", "openai", None, False),
    ]
    for article_id, status, engine, grounded, extractive in summaries:
        as_role(
            stack,
            "alt_pre_processor",
            "INSERT INTO summaries (article_id, prompt_version, status, summary, engine, grounded,"
            " extractive) VALUES (%s, 'v1', %s, %s, %s, %s, %s)",
            (article_id, status, "S." if status == "ready" else None, engine, grounded, extractive),
        )
    as_role(
        stack,
        "alt_pre_processor",
        "UPDATE summaries SET status = 'ready', summary = 'S.', engine = 'ollama', grounded = NULL"
        " WHERE article_id = %s",
        (recent[3],),
    )
    bob = await reader(stack, {None: 1}, articles=5)  # his feed, his reads: not Alice's

    answer = await alice.get("/v1/stats/history")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "private, no-store"
    days = answer.json()["days"]
    assert [day["day"] for day in days] == [
        (TODAY - timedelta(days=29 - n)).isoformat() for n in range(30)
    ]
    seen = by_day(answer.json())
    assert (seen[week_ago]["articles"], seen[week_ago]["reads"]) == (5, 2)
    assert (seen[yesterday]["articles"], seen[yesterday]["reads"]) == (4, 0)
    assert (seen[TODAY]["articles"], seen[TODAY]["reads"], seen[TODAY]["errors"]) == (0, 1, 3)
    assert seen[TODAY]["summaries"] == [
        {"engine": "extractive", "mark": "extractive", "summaries": 1},
        {"engine": "ollama", "mark": "grounded", "summaries": 2},
        {"engine": "ollama", "mark": "none", "summaries": 1},
        {"engine": "openai", "mark": "none", "summaries": 1},
    ]
    busy = {week_ago.isoformat(), yesterday.isoformat(), TODAY.isoformat()}
    quiet = [day for day in days if day["day"] not in busy]
    assert all(
        (d["articles"], d["reads"], d["errors"], d["summaries"]) == (0, 0, 0, []) for d in quiet
    )
    # A longer range reaches the older fetches; history outlives the articles (retention).
    longer = by_day((await alice.get("/v1/stats/history", days=60)).json())
    assert len(longer) == 60
    assert longer[TODAY - timedelta(days=40)]["articles"] == 6
    as_role(stack, "alt_pre_processor", "DELETE FROM articles WHERE id = ANY(%s)", (old[2:],))
    assert by_day((await alice.get("/v1/stats/history")).json())[week_ago]["articles"] == 5
    # Bob sees his own: five articles today, nothing of Alice's.
    bobs = by_day((await bob.get("/v1/stats/history", days=1)).json())
    assert list(bobs) == [TODAY]
    assert (bobs[TODAY]["articles"], bobs[TODAY]["errors"], bobs[TODAY]["summaries"]) == (5, 0, [])


async def test_history_refuses_a_range_out_of_bounds_and_needs_a_user(stack: BackendStack) -> None:
    alice = await reader(stack, {None: 1}, articles=0)
    for days in ("0", "366", "-1", "many"):
        refused = await alice.get("/v1/stats/history", days=days)
        assert refused.status_code == 422, (days, refused.text)
    assert len((await alice.get("/v1/stats/history", days=365)).json()["days"]) == 365
    async with stack.as_service("alt-frontend", "alt-backend") as client:
        assert (await client.get("/v1/stats/history")).status_code == 401


async def test_the_history_of_a_year_uses_the_day_rows_and_the_read_index(
    stack: BackendStack,
) -> None:
    """The plans: the per-feed day rows by their primary key, the reads by the user's index
    (never a scan of articles or of everyone's read marks)."""
    alice = await reader(stack, {None: 1}, articles=0)
    stack.app("ANALYZE feed_days; ANALYZE feed_summary_days; ANALYZE read_states")
    since = TODAY - timedelta(days=364)
    params = {"user_id": alice.id, "since": since, "since_at": at(since, 0)}
    with psycopg.connect(stack.app_db, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        plans = {
            query: "\n".join(row[0] for row in conn.execute(f"EXPLAIN {query}", params))
            for query in (stored._FEED_DAYS, stored._READ_DAYS, stored._SUMMARY_DAYS)
        }
    assert "feed_days_pkey" in plans[stored._FEED_DAYS]
    assert "read_states_user_read_at_idx" in plans[stored._READ_DAYS]
    assert "feed_summary_days_pkey" in plans[stored._SUMMARY_DAYS]
    assert all("on articles" not in plan for plan in plans.values())


def test_the_history_starts_from_what_is_stored(
    create_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0010 counts the articles and ready summaries already there."""
    url = create_database()
    every = migrate_module.migrations_for
    monkeypatch.setattr(
        migrate_module,
        "migrations_for",
        lambda database: [m for m in every(database) if m.version < "0010"],
    )
    migrate(url, Database.APP)
    yesterday = TODAY - timedelta(days=1)
    with psycopg.connect(url, autocommit=True) as conn:
        (feed,) = conn.execute("INSERT INTO feeds (url) VALUES ('https://e.org/f') RETURNING id")
        for day, count in ((yesterday, 2), (TODAY, 3)):
            conn.execute(
                "INSERT INTO articles (feed_id, entry_hash, title, published_at, fetched_at)"
                " SELECT %s, sha256(convert_to(%s || g, 'UTF8')), 'A', %s, %s"
                "   FROM generate_series(1, %s) g",
                (feed[0], str(day), at(day), at(day), count),
            )
        conn.execute(
            "INSERT INTO summaries (article_id, prompt_version, status, summary, engine,"
            " extractive, updated_at) SELECT id, 'v1', 'ready', 'S.', 'extractive', true, %s"
            " FROM articles WHERE fetched_at = %s",
            (at(yesterday), at(yesterday)),
        )
    monkeypatch.undo()
    assert migrate(url, Database.APP) == ["0010"]
    with psycopg.connect(url) as conn:
        days = conn.execute("SELECT day, articles, errors FROM feed_days ORDER BY day").fetchall()
        made = conn.execute("SELECT day, engine, mark, summaries FROM feed_summary_days").fetchall()
    assert days == [(yesterday, 2, 0), (TODAY, 3, 0)]
    assert made == [(yesterday, "extractive", "extractive", 2)]
