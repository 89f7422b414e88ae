"""The subscription pages: adding feeds, categories, OPML, feed health.

Every form is a plain POST that answers with a redirect back (Post/Redirect/Get); what was done
is said by a `notice` key in the query string, shown translated (never text from the URL).
Adding a feed goes in two steps when a site has several feeds: alt-backend lists them
(`POST /v1/feeds/discover`), the person picks one, then it is subscribed to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile

from alt.frontend.pages import safe_next
from alt.frontend.ui.backend import Backend, answer_of, backend
from alt.frontend.ui.render import gettext, render
from alt.frontend.ui.route import is_htmx
from alt.frontend.ui.viewer import Viewer, ViewerDep
from alt.platform.errors import AltError


def N_(message: str) -> str:
    """Marks a string for the catalogue; it is translated where it is shown."""
    return message


PAGE = 1000
SORTS = ("title", "failures", "unread")
NOTICES = {
    "saved": N_("Your changes are saved."),
    "moved": N_("The feed was moved."),
    "refreshing": N_("The feed will be checked again in a moment."),
    "unsubscribed": N_("You are unsubscribed."),
    "category_created": N_("The category was created."),
    "category_renamed": N_("The category was renamed."),
    "category_deleted": N_("The category was deleted; its feeds are now uncategorised."),
}
# What a refused address means, said in the reader's language (the backend's own message,
# in English, follows as the detail).
PROBLEMS = {
    "not_a_feed": N_("No feed was found at that address."),
    "feed_unreadable": N_("That address is a feed, but it cannot be read."),
    "blocked_url": N_("That address is not allowed."),
    "invalid_url": N_("That is not a web address that can be used."),
    "already_subscribed": N_("You are already subscribed to this feed."),
    "validation_failed": N_("Type the address of a site or a feed."),
    "discovery_unavailable": N_("Feeds cannot be checked right now; please try again in a minute."),
    "category_exists": N_("You already have a category with that name."),
    "invalid_opml": N_("That file is not an OPML file that can be imported."),
    "payload_too_large": N_("That file is too large."),
    "no_file": N_("Choose an OPML file to import."),
}
CATEGORY_PROBLEMS = PROBLEMS | {
    "validation_failed": N_("Type a name of up to 200 characters for the category.")
}
UNREACHABLE = N_("That address could not be reached.")


def notice_of(request: Request, locale: str) -> str | None:
    key = request.query_params.get("notice")
    return gettext(locale, NOTICES[key]) if key in NOTICES else None


def problem_of(exc: AltError, locale: str, problems: dict[str, str] = PROBLEMS) -> str:
    if exc.code.startswith("fetch_"):
        return gettext(locale, UNREACHABLE)
    return gettext(locale, problems.get(exc.code, N_("The request failed.")))


def problem_view(exc: AltError, locale: str, problems: dict[str, str] = PROBLEMS) -> dict[str, str]:
    """What went wrong: a headline in the reader's language and alt-backend's own words."""
    return {"headline": problem_of(exc, locale, problems), "detail": exc.message}


def back(path: str, **query: Any) -> RedirectResponse:
    shown = {key: value for key, value in query.items() if value}
    return RedirectResponse(f"{path}?{urlencode(shown)}" if shown else path, status_code=303)


async def form_of(request: Request) -> dict[str, str]:
    """The text fields of the posted form (files are read where they are expected)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def category_id(value: str | None) -> int | None:
    """A category select's value: an id, or none for "no category"."""
    if not value:
        return None
    if not value.isdigit():
        raise AltError(422, "validation_failed", N_("Choose a category from the list."))
    return int(value)


async def all_subscriptions(api: Backend) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = await api.get("/v1/subscriptions", after=after, limit=PAGE)
        found += page["subscriptions"]
        after = page["next_after"]
    return found


async def categories_of(api: Backend) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await api.get("/v1/categories"))["categories"]
    return listed


def failing(subscription: dict[str, Any]) -> bool:
    feed = subscription["feed"]
    return bool(feed["error_count"] > 0 or feed["status"] != "active")


def sorted_by(subscriptions: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    by_title = sorted(subscriptions, key=lambda s: (s["title"].casefold(), s["id"]))
    if sort == "failures":
        return sorted(by_title, key=lambda s: (-s["feed"]["error_count"], not failing(s)))
    if sort == "unread":
        return sorted(by_title, key=lambda s: -s["unread_count"])
    return by_title


def router(route_class: type[APIRoute], dependencies: Sequence[Any] = ()) -> APIRouter:
    r = APIRouter(route_class=route_class, dependencies=list(dependencies), include_in_schema=False)

    @r.get("/subscriptions")
    async def listing(request: Request, viewer: ViewerDep) -> HTMLResponse:
        api = backend(request, viewer)
        subscriptions, categories = await asyncio.gather(all_subscriptions(api), categories_of(api))
        sort = request.query_params.get("sort", "title")
        sort = sort if sort in SORTS else "title"
        only_failing = request.query_params.get("failing") == "1"
        added = request.query_params.get("added", "")
        shown = [s for s in subscriptions if failing(s) or not only_failing]
        context = {
            "viewer": viewer,
            "subscriptions": sorted_by(shown, sort),
            "total": len(subscriptions),
            "failing_count": sum(1 for s in subscriptions if failing(s)),
            "categories": categories,
            "sort": sort,
            "only_failing": only_failing,
            "added": next((s for s in subscriptions if str(s["id"]) == added), None),
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            "notice": notice_of(request, viewer.locale),
            "changed": None,
        }
        return render(request, "subscriptions/list.html", context)

    @r.get("/subscriptions/new")
    async def new(request: Request, viewer: ViewerDep) -> HTMLResponse:
        categories = await categories_of(backend(request, viewer))
        return add_page(request, viewer, categories, {"url": request.query_params.get("url", "")})

    @r.post("/subscriptions/new")
    async def add(request: Request, viewer: ViewerDep) -> Response:
        fields = await form_of(request)
        api = backend(request, viewer)
        try:
            if fields.get("feed") and fields.get("found_at") == fields.get("url"):
                return await subscribe(api, fields["feed"], fields)
            choices = (
                await api.send("POST", "/v1/feeds/discover", {"url": fields.get("url", "")})
            )["feeds"]
            if len(choices) == 1:
                return await subscribe(api, choices[0]["url"], fields)
        except AltError as exc:
            categories = await categories_of(api)
            problem = problem_view(exc, viewer.locale)
            return add_page(request, viewer, categories, fields, problem=problem)
        categories = await categories_of(api)
        return add_page(request, viewer, categories, fields, choices=choices)

    @r.get("/subscriptions/{subscription_id}")
    async def one(request: Request, viewer: ViewerDep, subscription_id: int) -> HTMLResponse:
        api = backend(request, viewer)
        subscription, categories = await asyncio.gather(
            api.get(f"/v1/subscriptions/{subscription_id}"), categories_of(api)
        )
        context = {
            "viewer": viewer,
            "subscription": subscription,
            "categories": categories,
            "notice": notice_of(request, viewer.locale),
        }
        return render(request, "subscriptions/feed.html", context)

    @r.post("/subscriptions/{subscription_id}")
    async def change(request: Request, viewer: ViewerDep, subscription_id: int) -> Response:
        fields = await form_of(request)
        title = fields.get("title", "").strip() or None
        change = {"title": title, "category_id": category_id(fields.get("category_id"))}
        await backend(request, viewer).send("PATCH", f"/v1/subscriptions/{subscription_id}", change)
        return back(f"/subscriptions/{subscription_id}", notice="saved")

    @r.post("/subscriptions/{subscription_id}/move")
    async def move(request: Request, viewer: ViewerDep, subscription_id: int) -> Response:
        fields = await form_of(request)
        change = {"category_id": category_id(fields.get("category_id"))}
        api = backend(request, viewer)
        moved = await api.send("PATCH", f"/v1/subscriptions/{subscription_id}", change)
        if not is_htmx(request):
            return back_to(fields, "moved", f"/subscriptions/{subscription_id}")
        context = {
            "viewer": viewer,
            "s": moved,
            "categories": await categories_of(api),
            "here": safe_next(fields.get("next") or "/subscriptions"),
            "changed": gettext(viewer.locale, NOTICES["moved"]),
        }
        return render(request, "subscriptions/_row.html", context)

    @r.post("/subscriptions/{subscription_id}/refresh")
    async def refresh(request: Request, viewer: ViewerDep, subscription_id: int) -> Response:
        fields = await form_of(request)
        await backend(request, viewer).send("POST", f"/v1/subscriptions/{subscription_id}/refresh")
        return back_to(fields, "refreshing", f"/subscriptions/{subscription_id}")

    @r.get("/subscriptions/{subscription_id}/unsubscribe")
    async def confirm_unsubscribe(
        request: Request, viewer: ViewerDep, subscription_id: int
    ) -> HTMLResponse:
        subscription = await backend(request, viewer).get(f"/v1/subscriptions/{subscription_id}")
        context = {"viewer": viewer, "subscription": subscription}
        return render(request, "subscriptions/unsubscribe.html", context)

    @r.post("/subscriptions/{subscription_id}/unsubscribe")
    async def unsubscribe(request: Request, viewer: ViewerDep, subscription_id: int) -> Response:
        await backend(request, viewer).send("DELETE", f"/v1/subscriptions/{subscription_id}")
        return back("/subscriptions", notice="unsubscribed")

    @r.get("/categories")
    async def categories(request: Request, viewer: ViewerDep) -> HTMLResponse:
        listed = await categories_of(backend(request, viewer))
        return categories_page(request, viewer, listed)

    @r.post("/categories")
    async def create_category(request: Request, viewer: ViewerDep) -> Response:
        fields = await form_of(request)
        api = backend(request, viewer)
        try:
            await api.send("POST", "/v1/categories", {"name": fields.get("name", "")})
        except AltError as exc:
            listed = await categories_of(api)
            return categories_page(request, viewer, listed, fields, exc)
        return back("/categories", notice="category_created")

    @r.post("/categories/{category}/rename")
    async def rename_category(request: Request, viewer: ViewerDep, category: int) -> Response:
        fields = await form_of(request)
        api = backend(request, viewer)
        try:
            await api.send("PATCH", f"/v1/categories/{category}", {"name": fields.get("name", "")})
        except AltError as exc:
            if exc.status == 404:
                raise
            listed = await categories_of(api)
            return categories_page(request, viewer, listed, {"renaming": str(category)}, exc)
        return back("/categories", notice="category_renamed")

    @r.get("/categories/{category}/delete")
    async def confirm_delete(request: Request, viewer: ViewerDep, category: int) -> HTMLResponse:
        listed = await categories_of(backend(request, viewer))
        found = next((c for c in listed if c["id"] == category), None)
        if found is None:
            raise AltError(404, "not_found", N_("There is no such category."))
        context = {"viewer": viewer, "category": found}
        return render(request, "subscriptions/delete_category.html", context)

    @r.post("/categories/{category}/delete")
    async def delete_category(request: Request, viewer: ViewerDep, category: int) -> Response:
        await backend(request, viewer).send("DELETE", f"/v1/categories/{category}")
        return back("/categories", notice="category_deleted")

    @r.post("/opml/import")
    async def import_opml(request: Request, viewer: ViewerDep) -> HTMLResponse:
        api = backend(request, viewer)
        upload = (await request.form()).get("file")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise AltError(422, "no_file", "Choose an OPML file to import.")
            files = {"file": (upload.filename, await upload.read(), "text/x-opml")}
            report = answer_of(await api.call("POST", "/v1/opml/import", files=files))
        except AltError as exc:
            problem = problem_view(exc, viewer.locale)
            categories = await categories_of(api)
            return add_page(request, viewer, categories, {}, opml_problem=problem)
        context = {"viewer": viewer, "report": report}
        return render(request, "subscriptions/imported.html", context)

    @r.get("/opml/export")
    async def export_opml(request: Request, viewer: ViewerDep) -> Response:
        answer = await backend(request, viewer).call("GET", "/v1/opml/export")
        if not answer.is_success:
            answer_of(answer)  # raises the backend's error
        relayed = ("content-type", "content-disposition")
        headers = {name: answer.headers[name] for name in relayed if name in answer.headers}
        return Response(answer.content, headers=headers)

    return r


async def subscribe(api: Backend, url: str, fields: dict[str, str]) -> Response:
    body = {
        "url": url,
        "title": fields.get("title", "").strip() or None,
        "category_id": category_id(fields.get("category_id")),
    }
    made = await api.send("POST", "/v1/subscriptions", body)
    return back("/subscriptions", added=made["id"])


def back_to(fields: dict[str, str], notice: str, default: str) -> Response:
    """Back to the page the form was on (a path of this site), saying what was done."""
    target = urlsplit(safe_next(fields.get("next") or default))
    query = [(k, v) for k, v in parse_qsl(target.query) if k not in ("notice", "added")]
    return RedirectResponse(
        f"{target.path}?{urlencode([*query, ('notice', notice)])}", status_code=303
    )


def add_page(
    request: Request,
    viewer: Viewer,
    categories: list[dict[str, Any]],
    fields: dict[str, str],
    *,
    choices: list[dict[str, Any]] | None = None,
    problem: dict[str, str] | None = None,
    opml_problem: dict[str, str] | None = None,
) -> HTMLResponse:
    """The add page; a problem is said in the form (answered with 200: the page is what the
    browser should show, and browsers log other statuses as errors)."""
    context = {
        "viewer": viewer,
        "categories": categories,
        "fields": fields,
        "choices": choices or [],
        "problem": problem,
        "opml_problem": opml_problem,
    }
    return render(request, "subscriptions/new.html", context)


def categories_page(
    request: Request,
    viewer: Viewer,
    listed: list[dict[str, Any]],
    fields: dict[str, str] | None = None,
    problem: AltError | None = None,
) -> HTMLResponse:
    context = {
        "viewer": viewer,
        "categories": listed,
        "fields": fields or {},
        "problem": problem_view(problem, viewer.locale, CATEGORY_PROBLEMS) if problem else None,
        "notice": notice_of(request, viewer.locale),
    }
    return render(request, "subscriptions/categories.html", context)
