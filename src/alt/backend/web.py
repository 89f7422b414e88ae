"""What every alt-backend route shares: the caller, the database, and private responses.

Every per-user route is built with `PrivateRoute`, so that every answer of it (errors included)
carries `Cache-Control: private, no-store`: per-user data is never kept by a shared cache, nor
by the browser. The caller is known only through `current_user` (a verified user token); every
query is scoped to that user's id in the SQL itself, and another user's object answers exactly
like a missing one (404).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.routing import APIRoute
from psycopg.pq import TransactionStatus

from alt.platform.db import Connection, Pool
from alt.platform.errors import AltError, answer_error
from alt.platform.http_app import ServiceContext
from alt.platform.identity import User, current_user

PRIVATE = "private, no-store"
PG_BIGINT_MAX = 2**63 - 1

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

CurrentUser = Annotated[User, Depends(current_user)]
ObjectId = Annotated[int, Path(ge=1, le=PG_BIGINT_MAX, description="the object's id")]


class PrivateRoute(APIRoute):
    """A route whose every answer is `Cache-Control: private, no-store`."""

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def private(request: Request) -> Response:
            try:
                response = await handle(request)
            except Exception as exc:
                response = await answer_error(request, exc)
            response.headers["Cache-Control"] = PRIVATE
            return response

        return private


async def service_context(request: Request) -> ServiceContext:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hand-off that costs
    # more than this lookup on every request.
    ctx: ServiceContext = request.app.state.ctx
    return ctx


Context = Annotated[ServiceContext, Depends(service_context)]


def pool_of(ctx: ServiceContext) -> Pool:
    """The service's pool; its connections give rows as dicts (`alt.platform.db`)."""
    if ctx.pool is None:  # pragma: no cover - alt-backend always has a database
        raise AltError(503, "unavailable", "The database is not available right now.")
    return ctx.pool


@asynccontextmanager
async def connection(ctx: ServiceContext) -> AsyncIterator[Connection]:
    """A pooled connection on which every statement commits by itself: for handlers whose
    every statement stands alone (each is atomic, none needs another's snapshot). It saves the
    BEGIN and COMMIT round trips a transaction costs, two of the three a read takes."""
    async with pool_of(ctx).connection() as conn:
        await conn.set_autocommit(True)
        try:
            yield conn
        finally:
            # The pool expects its own setting back. A connection left busy (a cancelled
            # statement) or broken is not reused by the pool, so nothing is left to restore.
            if conn.info.transaction_status is TransactionStatus.IDLE:
                await conn.set_autocommit(False)


def not_found(what: str) -> AltError:
    """The one answer for "missing" and "someone else's"."""
    return AltError(404, "not_found", f"No such {what}.")
