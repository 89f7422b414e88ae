"""Admin routes: `/v1/user` (list, create) and `/v1/user/{id}` (get, change role or disable,
delete). An instance always keeps at least one enabled admin. Answers never carry password
hashes or session ids."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from psycopg import AsyncConnection
from pydantic import BaseModel, Field

from alt.auth import audit, purge
from alt.auth.accounts import Account, active_admins, get_account, insert_account, list_accounts
from alt.auth.context import AdminDep, ConnDep
from alt.auth.login import new_credentials
from alt.auth.passwords import MAX_LENGTH
from alt.auth.sessions import revoke_all
from alt.platform.errors import AltError

Conn = AsyncConnection[Any]


class CreateBody(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=MAX_LENGTH)
    role: Literal["admin", "user"] = "user"


class ChangeBody(BaseModel):
    role: Literal["admin", "user"] | None = None
    disabled: bool | None = None


def _not_found() -> AltError:
    return AltError(404, "not_found", "No such user.")


async def _target(conn: Conn, user_id: uuid.UUID) -> Account:
    account = await get_account(conn, user_id)
    if account is None:
        raise _not_found()
    return account


async def _keep_an_admin(conn: Conn, target: Account, *, removes_admin: bool) -> None:
    """Refuse a change that would leave no enabled admin (call inside a transaction)."""
    admins = await active_admins(conn)
    if removes_admin and admins == [target.id]:
        raise AltError(
            409,
            "last_admin",
            "The last admin cannot be removed, demoted or disabled; make another admin first.",
        )


def router(route_class: type[Any]) -> APIRouter:
    r = APIRouter(route_class=route_class, tags=["admin"])
    _collection_routes(r)
    _member_routes(r)
    return r


def _collection_routes(r: APIRouter) -> None:
    @r.get("/v1/user")
    async def list_users(
        who: AdminDep,
        conn: ConnDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        return {"users": [a.public() for a in await list_accounts(conn, limit, offset)]}

    @r.post("/v1/user", status_code=201)
    async def create_user(body: CreateBody, who: AdminDep, conn: ConnDep) -> JSONResponse:
        email, password_hash = await new_credentials(body.email, body.password)
        account = await insert_account(conn, email, password_hash, role=body.role)
        if account is None:
            raise AltError(409, "email_taken", "A user with this address exists already.")
        await audit.record(
            conn,
            "user.created",
            user_id=account.id,
            ip=who.client.ip,
            by=str(who.session.account.id),
            role=account.role,
        )
        return JSONResponse(account.public(), status_code=201)


def _member_routes(r: APIRouter) -> None:
    @r.get("/v1/user/{user_id:uuid}")
    async def get_user(user_id: uuid.UUID, who: AdminDep, conn: ConnDep) -> dict[str, Any]:
        return (await _target(conn, user_id)).public()

    @r.patch("/v1/user/{user_id:uuid}")
    async def change_user(
        user_id: uuid.UUID, body: ChangeBody, who: AdminDep, conn: ConnDep
    ) -> dict[str, Any]:
        """Change the role or disable/enable; the user's sessions end (privilege change)."""
        async with conn.transaction():
            target = await _target(conn, user_id)
            demotes = target.is_admin and body.role == "user"
            disables = target.is_admin and body.disabled is True
            await _keep_an_admin(conn, target, removes_admin=demotes or disables)
            await _apply_change(conn, user_id, body)
            await revoke_all(conn, user_id, "changed_by_admin")
            await audit.record(
                conn,
                "user.updated",
                user_id=user_id,
                ip=who.client.ip,
                by=str(who.session.account.id),
                role=body.role,
                disabled=body.disabled,
            )
        return (await _target(conn, user_id)).public()

    @r.delete("/v1/user/{user_id:uuid}")
    async def delete_user(
        user_id: uuid.UUID, request: Request, who: AdminDep, conn: ConnDep
    ) -> dict[str, Any]:
        async with conn.transaction():
            target = await _target(conn, user_id)
            await _keep_an_admin(conn, target, removes_admin=target.is_admin)
            await purge.delete_auth_rows(conn, user_id)
            await audit.record(
                conn,
                "user.deleted",
                user_id=user_id,
                ip=who.client.ip,
                by=str(who.session.account.id),
            )
        services = request.app.state.ctx.services
        done = await purge.purge_app_data(conn, services, user_id)
        return {"status": "deleted", "app_data": "deleted" if done else "pending"}


async def _apply_change(conn: Conn, user_id: uuid.UUID, body: ChangeBody) -> None:
    if body.role is not None:
        await conn.execute("UPDATE users SET role = %s WHERE id = %s", (body.role, user_id))
    if body.disabled is not None:
        await conn.execute(
            "UPDATE users SET disabled_at = CASE WHEN %s THEN coalesce(disabled_at, now())"
            " END WHERE id = %s",
            (body.disabled, user_id),
        )
