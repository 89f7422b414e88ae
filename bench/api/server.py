"""alt-backend in its own process for the API benchmark, served by uvicorn on loopback.

auth-service is not part of what is measured: a tiny app on the auth-service port serves the
benchmark's user-token public key at `/v1/auth/keys` (alt-backend fetches it once and caches
it), so that user tokens minted by the benchmark verify exactly as auth-service's would.

    python -m bench.api.server --database URL --keys FILE --jwks FILE --port P --auth-port Q
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from alt.backend.service import parts
from alt.config import load_settings
from alt.platform.http_app import create_app
from alt.platform.logging import configure_logging
from alt.services import SERVICES


async def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--database", "--keys", "--jwks", "--data-dir"):
        parser.add_argument(name, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--auth-port", type=int, required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    settings = load_settings(
        DATABASE_URL=args.database,
        AUTH_DATABASE_URL=args.database,
        ALT_SERVICE_KEYS_FILE=args.keys,
        ALT_DATA_DIR=args.data_dir,
        ALT_BACKEND_URL=f"http://127.0.0.1:{args.port}",
        AUTH_SERVICE_URL=f"http://127.0.0.1:{args.auth_port}",
        ALT_LOG_LEVEL=args.log_level,
    )
    configure_logging("alt-backend", settings.log_level)
    backend = create_app(SERVICES["alt-backend"], settings, parts(settings))
    jwks = await asyncio.to_thread(lambda: json.loads(Path(args.jwks).read_text()))

    async def keys(_: Request) -> JSONResponse:
        return JSONResponse(jwks)

    auth = Starlette(routes=[Route("/v1/auth/keys", keys)])
    lifespans: tuple[tuple[Any, int, Literal["on", "off"]], ...] = (
        (backend, args.port, "on"),
        (auth, args.auth_port, "off"),
    )
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_config=None,
                access_log=False,
                proxy_headers=False,
                server_header=False,
                lifespan=lifespan,
            )
        )
        for app, port, lifespan in lifespans
    ]
    await asyncio.gather(*(server.serve() for server in servers))


if __name__ == "__main__":
    asyncio.run(main())
