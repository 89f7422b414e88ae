"""The admin pages: users and the instance's registration setting.

Only admins see them (auth-service checks it again on every change). Deleting a user asks for a
confirmation on a page of its own, so that it works without JavaScript.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from alt.frontend.ui.accounts import N_, auth_answer, field, notice_of, redirect
from alt.frontend.ui.render import render
from alt.frontend.ui.viewer import Viewer, ViewerDep
from alt.platform.errors import AltError

DONE = {
    "created": N_("The user is created."),
    "changed": N_("The user is changed; their sessions have ended."),
    "deleted": N_("The user is deleted."),
    "registration": N_("The registration setting is saved."),
}
CHANGES: dict[str, dict[str, Any]] = {
    "disable": {"disabled": True},
    "enable": {"disabled": False},
    "make-admin": {"role": "admin"},
    "make-user": {"role": "user"},
}
ROLES = ("user", "admin")


def require_admin(viewer: Viewer) -> None:
    if not viewer.is_admin:
        raise AltError(403, "forbidden", "Only an admin may see this page.")


async def users_page(
    request: Request,
    viewer: Viewer,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    entered: dict[str, str] | None = None,
) -> HTMLResponse:
    (users, _), (settings, _) = await asyncio.gather(
        auth_answer(request, viewer, "GET", "/v1/user?limit=500"),
        auth_answer(request, viewer, "GET", "/v1/auth/settings"),
    )
    context = {
        "viewer": viewer,
        "users": users["users"],
        "registration_open": settings["registration_open"],
        "notice": notice,
        "error": error,
        "entered": entered or {},
        "roles": ROLES,
    }
    return render(request, "admin/users.html", context, status=status)


async def admin_change(
    request: Request, viewer: Viewer, method: str, path: str, payload: Any, done: str
) -> Response:
    """A change through auth-service; back to the list with `done`'s notice or the error."""
    try:
        await auth_answer(request, viewer, method, path, payload)
    except AltError as exc:
        return await users_page(request, viewer, error=exc.message, status=exc.status)
    return redirect(f"/admin/users?done={done}")


async def target_user(request: Request, viewer: Viewer, user_id: uuid.UUID) -> dict[str, Any]:
    user, _ = await auth_answer(request, viewer, "GET", f"/v1/user/{user_id}")
    return dict(user)


def router(route_class: type[APIRoute], dependencies: Sequence[Any] = ()) -> APIRouter:
    r = APIRouter(route_class=route_class, dependencies=list(dependencies), include_in_schema=False)

    @r.get("/admin/users")
    async def list_users(request: Request, viewer: ViewerDep, done: str | None = None) -> Response:
        require_admin(viewer)
        return await users_page(request, viewer, notice=notice_of(viewer, done, DONE))

    @r.post("/admin/users")
    async def create_user(request: Request, viewer: ViewerDep) -> Response:
        require_admin(viewer)
        form = await request.form()
        role = field(form, "role")
        new = {"email": field(form, "email")[:320], "password": field(form, "password")}
        new["role"] = role if role in ROLES else "user"
        try:
            await auth_answer(request, viewer, "POST", "/v1/user", new)
        except AltError as exc:
            entered = {"email": new["email"], "role": new["role"]}
            return await users_page(
                request, viewer, error=exc.message, status=exc.status, entered=entered
            )
        return redirect("/admin/users?done=created")

    @r.post("/admin/users/{user_id:uuid}/change")
    async def change_user(request: Request, viewer: ViewerDep, user_id: uuid.UUID) -> Response:
        require_admin(viewer)
        change = CHANGES.get(field(await request.form(), "change"))
        if change is None:
            raise AltError(422, "validation_failed", "Choose a change.")
        return await admin_change(
            request, viewer, "PATCH", f"/v1/user/{user_id}", change, "changed"
        )

    @r.get("/admin/users/{user_id:uuid}/delete")
    async def confirm_delete(request: Request, viewer: ViewerDep, user_id: uuid.UUID) -> Response:
        require_admin(viewer)
        user = await target_user(request, viewer, user_id)
        return render(request, "admin/delete.html", {"viewer": viewer, "user": user})

    @r.post("/admin/users/{user_id:uuid}/delete")
    async def delete_user(request: Request, viewer: ViewerDep, user_id: uuid.UUID) -> Response:
        require_admin(viewer)
        return await admin_change(request, viewer, "DELETE", f"/v1/user/{user_id}", None, "deleted")

    @r.post("/admin/registration")
    async def set_registration(request: Request, viewer: ViewerDep) -> Response:
        require_admin(viewer)
        wanted = {"registration_open": field(await request.form(), "open") == "true"}
        return await admin_change(
            request, viewer, "PUT", "/v1/auth/settings", wanted, "registration"
        )

    return r
