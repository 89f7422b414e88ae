"""A pre-processor fetcher that runs one round and exits: the process the crash test kills."""

from __future__ import annotations

import asyncio
import sys

from alt.config import load_settings
from alt.platform.db import make_pool
from alt.platform.egress import EgressClient, FetchLimits
from alt.preprocessor.fetcher import FeedFetcher
from alt.preprocessor.settings import IngestSettings
from alt.services import SERVICES
from tests.support.farm import FarmResolver


async def main(database_url: str, port: int) -> None:
    settings = load_settings(DATABASE_URL=database_url, AUTH_DATABASE_URL=database_url)
    limits = FetchLimits(allowed_ports=(port,), allow_private_hosts=(f"127.0.0.1:{port}",))
    async with (
        make_pool(settings, SERVICES["pre-processor"]) as pool,
        EgressClient(settings, limits, resolver=FarmResolver()) as egress,
    ):
        await FeedFetcher(pool, egress, IngestSettings(), database_url).run_once()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
