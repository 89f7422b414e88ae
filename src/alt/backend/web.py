"""What every alt-backend route shares: the caller, the database, and private responses.

Every per-user route is built with `PrivateRoute`, so that every answer of it (errors included)
carries `Cache-Control: private, no-store`: per-user data is never kept by a shared cache, nor
by the browser. The caller is known only through `current_user` (a verified user token); every
query is scoped to that user's id in the SQL itself, and another user's object answers exactly
like a missing one (404).

Handlers are module-level functions that take what they use as parameters (the user, the
database's pool `Db`, the egress policy `Limits`), so that each can be called alone; each says
at its call whether its statements run in autocommit or in one transaction
(`alt.platform.db`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.routing import APIRoute

from alt.backend import storage
from alt.platform.db import Connection, Pool
from alt.platform.egress import FetchLimits
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


# The dependencies are async: FastAPI runs a plain `def` dependency in a worker thread, a
# hand-off that costs more than these lookups on every request.


async def service_context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


Context = Annotated[ServiceContext, Depends(service_context)]


def pool_of(ctx: ServiceContext) -> Pool:
    """The service's pool; its connections give rows as dicts (`alt.platform.db`)."""
    if ctx.pool is None:  # pragma: no cover - alt-backend always has a database
        raise AltError(503, "unavailable", "The database is not available right now.")
    return ctx.pool


async def database(request: Request) -> Pool:
    return pool_of(request.app.state.ctx)


Db = Annotated[Pool, Depends(database)]

FETCH_LIMITS_STATE = "fetch_limits"
"""Where `alt.backend.service` puts the egress policy on the app's state."""


async def fetch_limits(request: Request) -> FetchLimits:
    limits: FetchLimits = getattr(request.app.state, FETCH_LIMITS_STATE)
    return limits


Limits = Annotated[FetchLimits, Depends(fetch_limits)]
"""The egress policy, to refuse URLs that the fetcher would refuse, with the reason."""


def not_found(what: str) -> AltError:
    """The one answer for "missing" and "someone else's"."""
    return AltError(404, "not_found", f"No such {what}.")


async def check_scope(
    conn: Connection, user_id: Any, *, feed_id: int | None = None, category_id: int | None = None
) -> None:
    """404 unless the caller subscribes to the feed and has the category (those given)."""
    if feed_id is not None and not await storage.subscriptions.has_feed(conn, user_id, feed_id):
        raise not_found("feed")
    if category_id is not None and not await storage.categories.exists(conn, user_id, category_id):
        raise not_found("category")
