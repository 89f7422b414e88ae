"""A retention run as the pre-processor's job makes it, in a process of its own: the process the
crash test kills."""

from __future__ import annotations

import asyncio
import sys

from alt.config import load_settings
from alt.platform.db import make_pool
from alt.preprocessor import retention
from alt.preprocessor.settings import IngestSettings
from alt.services import SERVICES


async def main(database_url: str) -> None:
    settings = load_settings(DATABASE_URL=database_url, AUTH_DATABASE_URL=database_url)
    async with (
        make_pool(settings, SERVICES["pre-processor"]) as pool,
        pool.connection() as conn,
    ):
        deleted = await retention.purge(conn, IngestSettings())
    print("deleted", deleted, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
