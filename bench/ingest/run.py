"""Ingestion benchmark: Alt's fetcher against a naive fetcher (httpx, 32 in flight, ETags,
feedparser, INSERT … ON CONFLICT), side by side in one run, against the same feed farm.

    python -m bench.ingest.run --feeds 1000 --feeds 10000 --repeat 3

For each size: (a) a first round where everything is new, (b) a round where ~90 % answer 304
and ~10 % have new items, (c) items per second parsed, sanitised and stored, (d) CPU time and
peak memory of each fetcher's processes. Prints the ratios naive / Alt (higher is better for
Alt) and checks that every item is stored. Each repeat is a fresh farm and fresh databases, the
two fetchers taking turns to go first; the table shows medians (the machines are shared).
Needs PostgreSQL (ALT_TEST_DATABASE_URL, as the tests) and the `bench` extra (feedparser).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from psycopg import sql
from tests.support.farm import expected_items, url_of
from tests.support.ports import free_port

from alt.platform.migrate import migrate
from alt.services import Database

ADMIN_URL = os.environ.get(
    "ALT_TEST_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"alt_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(ADMIN_URL)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def farm(port: int, feeds: int) -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.farm", "--port", str(port), "--feeds", str(feeds)]
    )
    try:
        while True:  # it makes its feeds first (~0.2 ms each)
            if process.poll() is not None:
                raise RuntimeError(f"the feed farm exited ({process.returncode}) before serving")
            try:
                httpx.get(f"http://127.0.0.1:{port}/feed/0", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait()


class Contender:
    def __init__(self, which: str, database: str, port: int, feeds: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.ingest.contender",
                which,
                "--database",
                database,
                "--port",
                str(port),
                "--feeds",
                str(feeds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def round(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("round\n")
        self.process.stdin.flush()
        result: dict[str, Any] = json.loads(self.process.stdout.readline())
        return result

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def seed(database: str, port: int, feeds: int) -> None:
    user = uuid.uuid4()
    with psycopg.connect(database) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO feeds (url) VALUES (%s)", [(url_of(n, port),) for n in range(feeds)]
        )
        cur.execute(
            "INSERT INTO subscriptions (user_id, feed_id) SELECT %s, id FROM feeds", (user,)
        )


def stored(database: str, table: str) -> int:
    with psycopg.connect(database) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        return int(row.fetchone()[0])  # type: ignore[index]


Results = dict[str, list[dict[str, Any]]]


def bench(feeds: int, alt_first: bool) -> tuple[Results, list[str]]:
    """One run of both fetchers over two rounds; their results and what they stored."""
    port = free_port()
    lines = []
    with scratch_database() as alt_db, scratch_database() as naive_db, farm(port, feeds):
        migrate(alt_db, Database.APP)
        seed(alt_db, port, feeds)
        contenders = {
            "alt": Contender("alt", alt_db, port, feeds),
            "naive": Contender("naive", naive_db, port, feeds),
        }
        order = ["alt", "naive"] if alt_first else ["naive", "alt"]
        results: Results = {"alt": [], "naive": []}
        for round_ in (1, 2):
            if round_ == 2:
                httpx.post(f"http://127.0.0.1:{port}/round")
            for name in order:
                results[name].append(contenders[name].round())
            want = expected_items(feeds, round_)
            got_alt, got_naive = stored(alt_db, "articles"), stored(naive_db, "naive_items")
            lines.append(
                f"round {round_}: items expected {want}, stored by Alt {got_alt}, "
                f"by naive {got_naive}" + ("" if got_alt == want else "  <-- MISSING")
            )
        for contender in contenders.values():
            contender.close()
    return results, lines


def _median_results(runs: list[Results]) -> Results:
    """Each measure's median over the runs."""
    merged: Results = {"alt": [], "naive": []}
    for name in merged:
        for index in range(2):
            rounds = [run[name][index] for run in runs]
            merged[name].append(
                {
                    key: statistics.median(r[key] for r in rounds)
                    for key in rounds[0]
                    if key != "counts"
                }
            )
    return merged


def _runs_line(runs: list[Results]) -> str:
    walls = [
        f"{run['naive'][0]['wall_s']:.1f}/{run['alt'][0]['wall_s']:.1f} s, "
        f"{run['naive'][1]['wall_s']:.1f}/{run['alt'][1]['wall_s']:.1f} s"
        for run in runs
    ]
    return "runs (naive/Alt, first round, 304 round): " + "; ".join(walls)


def _table(results: dict[str, list[dict[str, Any]]], feeds: int) -> list[str]:
    out = ["| measure | naive | Alt | naive / Alt |", "|---|---|---|---|"]
    names = ["(a) first round, s", "(b) 304 round, s"]
    for index, name in enumerate(names):
        n, a = results["naive"][index]["wall_s"], results["alt"][index]["wall_s"]
        out.append(f"| {name} | {n:.2f} | {a:.2f} | {n / a:.1f}x |")
    items = expected_items(feeds, 1)
    n_rate = items / results["naive"][0]["wall_s"]
    a_rate = items / results["alt"][0]["wall_s"]
    out.append(
        f"| (c) items/s, first round | {n_rate:,.0f} | {a_rate:,.0f} | "
        f"{a_rate / n_rate:.1f}x (Alt / naive) |"
    )
    for index, name in enumerate(names):
        n, a = results["naive"][index]["cpu_s"], results["alt"][index]["cpu_s"]
        out.append(f"| (d) CPU, {name[4:]} | {n:.2f} | {a:.2f} | {n / max(a, 1e-9):.1f}x |")
    n_mem = results["naive"][-1]["peak_bytes"] / 2**20
    a_mem = results["alt"][-1]["peak_bytes"] / 2**20
    out.append(f"| (d) peak memory, MiB | {n_mem:.0f} | {a_mem:.0f} | {n_mem / a_mem:.1f}x |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, action="append", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for feeds in args.feeds or [1000]:
        runs, lines = [], [f"## {feeds} feeds"]
        for repeat in range(args.repeat):
            results, stored_lines = bench(feeds, alt_first=repeat % 2 == 1)
            runs.append(results)
            lines += stored_lines
        lines.append(_runs_line(runs))
        print("\n".join(lines + _table(_median_results(runs), feeds)), flush=True)


if __name__ == "__main__":
    main()
