"""Routes for other services only (never reachable through the edge, which refuses
`/api/v1/internal/*`).

`DELETE /v1/internal/users/{user_id}`: auth-service deletes a user and asks alt-backend to
delete every row of that user in the application database. Only auth-service may ask (its
service token says so); deleting what is already gone is fine (204), so auth-service may retry.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from alt.backend.web import Context, PrivateRoute, pool_of
from alt.platform.errors import AltError
from alt.platform.logging import get_logger

log = get_logger(__name__)

AUTH_SERVICE = "auth-service"

# Children first. Inoreader's own tables hang off the account and go with it (ON DELETE
# CASCADE); shared rows (feeds, articles) are nobody's and stay.
_PURGE = [
    ("favorites", "DELETE FROM favorites WHERE user_id = %(user_id)s"),
    ("read_states", "DELETE FROM read_states WHERE user_id = %(user_id)s"),
    ("subscriptions", "DELETE FROM subscriptions WHERE user_id = %(user_id)s"),
    ("categories", "DELETE FROM categories WHERE user_id = %(user_id)s"),
    ("inoreader_accounts", "DELETE FROM inoreader_accounts WHERE user_id = %(user_id)s"),
]


def router() -> APIRouter:
    r = APIRouter(route_class=PrivateRoute, tags=["internal"])

    @r.delete(
        "/v1/internal/users/{user_id}",
        status_code=204,
        response_class=Response,
        responses={403: {"description": "the caller is not auth-service"}},
    )
    async def purge_user(user_id: uuid.UUID, request: Request, ctx: Context) -> Response:
        """Delete every application row of a deleted user (auth-service only)."""
        if getattr(request.state, "caller", None) != AUTH_SERVICE:
            raise AltError(403, "forbidden", "Only auth-service may delete a user's data.")
        counts: dict[str, int] = {}
        async with pool_of(ctx).connection() as conn:
            for table, statement in _PURGE:
                cursor = await conn.execute(statement, {"user_id": user_id})
                counts[table] = cursor.rowcount
        log.info("user_data_purged", user_id=str(user_id), **counts)
        return Response(status_code=204)

    return r
