"""Routes for other services only (never reachable through the edge, which refuses
`/api/v1/internal/*`).

`DELETE /v1/internal/users/{user_id}`: auth-service deletes a user and asks alt-backend to
delete every row of that user in the application database. Only auth-service may ask (its
service token says so); deleting what is already gone is fine (204), so auth-service may retry.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from alt.backend import storage
from alt.backend.web import Db, PrivateRoute
from alt.platform.db import transaction
from alt.platform.errors import AltError
from alt.platform.logging import get_logger

log = get_logger(__name__)

AUTH_SERVICE = "auth-service"

router = APIRouter(route_class=PrivateRoute, tags=["internal"])


@router.delete(
    "/v1/internal/users/{user_id}",
    status_code=204,
    response_class=Response,
    responses={403: {"description": "the caller is not auth-service"}},
)
async def purge_user(user_id: uuid.UUID, request: Request, db: Db) -> Response:
    """Delete every application row of a deleted user (auth-service only)."""
    if getattr(request.state, "caller", None) != AUTH_SERVICE:
        raise AltError(403, "forbidden", "Only auth-service may delete a user's data.")
    async with transaction(db) as conn:
        counts = await storage.purge.user_data(conn, user_id)
    log.info("user_data_purged", user_id=str(user_id), **counts)
    return Response(status_code=204)
