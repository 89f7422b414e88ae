"""One fetcher in its own process, driven round by round over stdin/stdout so that its CPU time
and peak memory are its own (with its worker processes', if it has any). Prints one JSON line
per round."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from typing import Any

import psutil
import structlog
from tests.support.farm import FarmResolver

from alt.config import load_settings
from alt.platform.db import make_pool
from alt.platform.egress import EgressClient, FetchLimits
from alt.preprocessor.fetcher import FeedFetcher
from alt.preprocessor.parsing import FeedParsers
from alt.services import SERVICES
from bench.ingest.naive import NaiveFetcher


def _usage() -> tuple[float, int]:
    """CPU seconds and peak resident bytes of this process and its children, summed."""
    me = psutil.Process()
    processes = [me, *me.children(recursive=True)]
    cpu = sum(p.cpu_times().user + p.cpu_times().system for p in processes)
    return cpu, sum(_peak_rss(p.pid) for p in processes)


def _peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


async def _rounds(run_round: Any) -> None:
    for line in sys.stdin:
        if line.strip() != "round":
            break
        cpu_before, _ = _usage()
        started = time.perf_counter()
        counts = await run_round()
        wall = time.perf_counter() - started
        cpu_after, peak = _usage()
        print(
            json.dumps(
                {
                    "wall_s": wall,
                    "cpu_s": cpu_after - cpu_before,
                    "peak_bytes": peak,
                    "counts": counts,
                }
            ),
            flush=True,
        )


async def _alt(database_url: str, port: int) -> None:
    settings = load_settings(DATABASE_URL=database_url, AUTH_DATABASE_URL=database_url)
    limits = FetchLimits(allowed_ports=(port,), allow_private_hosts=(f"127.0.0.1:{port}",))
    policy = settings.ingest  # ALT_INGEST_* from the environment, as a deployment reads them
    async with (
        make_pool(settings, SERVICES["pre-processor"]) as pool,
        EgressClient(settings, limits, resolver=FarmResolver()) as egress,
        FeedParsers(policy.parse_workers, policy.parse_cpu_budget_s) as parsers,
    ):
        fetcher = FeedFetcher(pool, egress, policy, database_url, parsers=parsers)

        async def run_round() -> dict[str, int]:
            await _make_due(pool)
            outcomes = await fetcher.run_once()
            return {
                "ok": sum(1 for o in outcomes if not o.error and not o.not_modified),
                "not_modified": sum(1 for o in outcomes if o.not_modified),
                "failed": sum(1 for o in outcomes if o.error),
                "items": sum(o.inserted for o in outcomes),
            }

        await _rounds(run_round)


async def _make_due(pool: Any) -> None:
    """Every feed is due at the start of a round, as in the baseline."""
    async with pool.connection() as conn:
        await conn.execute("RESET ROLE")
        await conn.execute("UPDATE feeds SET next_check_at = now(), claimed_until = NULL")
        await conn.execute("SET ROLE alt_pre_processor")


async def _naive(database_url: str, urls: list[str]) -> None:
    await _rounds(NaiveFetcher(database_url, urls).run_round)


def main() -> None:
    # stdout carries the results; logs (warnings and worse) go to stderr.
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["alt", "naive"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--feeds", type=int, required=True)
    args = parser.parse_args()
    if args.which == "alt":
        asyncio.run(_alt(args.database, args.port))
    else:
        urls = [f"http://127.0.0.1:{args.port}/feed/{n}" for n in range(args.feeds)]
        asyncio.run(_naive(args.database, urls))


if __name__ == "__main__":
    main()
