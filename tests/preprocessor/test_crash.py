"""REL-01: a fetcher killed with SIGKILL at any moment loses no article and duplicates none; a
feed's cursor never advances without its articles."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys

import psycopg

from tests.preprocessor.conftest import RunningFarm, subscribe
from tests.support.farm import expected_items, kind_of

FEEDS = 300


def _run(app_url: str, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.preprocessor.fetch_once", app_url, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "ALT_LOG_LEVEL": "WARNING"},
    )


def _check_consistent(app_url: str) -> None:
    with psycopg.connect(app_url) as conn:
        duplicates = conn.execute(
            "SELECT count(*) FROM (SELECT feed_id, guid FROM articles"
            " GROUP BY feed_id, guid HAVING count(*) > 1) d"
        ).fetchone()
        assert duplicates == (0,)
        # A stored cursor always comes with its feed's articles.
        torn = conn.execute(
            "SELECT count(*) FROM feeds f WHERE f.etag IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.feed_id = f.id)"
        ).fetchone()
        assert torn == (0,)


# REL-01: SIGKILL mid-round loses and duplicates nothing.
async def test_kill_nine_mid_round_loses_and_duplicates_nothing(
    farm: RunningFarm, app_url: str
) -> None:
    subscribe(app_url, [farm.url(n) for n in range(FEEDS)])
    rng = random.Random(7)
    for _ in range(4):
        child = _run(app_url, farm.port)
        await asyncio.sleep(rng.uniform(0.3, 1.2))  # the farm serves from this event loop
        child.send_signal(signal.SIGKILL)
        await asyncio.to_thread(child.wait)
        _check_consistent(app_url)
        with psycopg.connect(app_url) as conn:  # the dead worker's leases run out
            conn.execute("UPDATE feeds SET claimed_until = NULL")
    finished = _run(app_url, farm.port)
    out, _ = await asyncio.to_thread(finished.communicate, timeout=120)
    assert out.strip().splitlines()[-1] == "done"
    _check_consistent(app_url)
    with psycopg.connect(app_url) as conn:
        stored = conn.execute("SELECT count(*) FROM articles").fetchone()
        unfetched = conn.execute(
            "SELECT count(*) FROM feeds WHERE last_checked_at IS NULL"
        ).fetchone()
    assert stored == (expected_items(FEEDS, 1),)
    assert unfetched == (0,)
    assert sum(1 for n in range(FEEDS) if kind_of(n).healthy) > 0
