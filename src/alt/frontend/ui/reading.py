"""The reading pages: the unread stream and the other lists of articles, the article page, and
the read/star actions.

A list page costs one alt-backend call (besides the viewer's): the sidebar of feeds and
categories with their unread counts is a page of its own (`/nav`) that htmx loads into the
sidebar after the list, so the list stays as fast as the JSON API. Without JavaScript the
sidebar links to that page. Lists page by alt-backend's keyset cursor: a plain "Next page"
link, which htmx turns into infinite scroll (the link's sentinel fetches the next items only).

Opening an unread article marks it read. alt-backend accepts a write only with a CSRF-checked
user token, which a page's GET does not carry: when the browser says the navigation started on
this site (or was typed), the edge vouches for it with the session's own CSRF token. An article
opened from a link on another site is marked by the page's script instead (js/reading.js
presses the page's "Mark read" button, which another site's page cannot do without the reader's
browser running our page), so that a page of another site cannot mark anything by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from alt.frontend.edge import validate_session
from alt.frontend.pages import safe_next
from alt.frontend.ui.backend import Backend, backend
from alt.frontend.ui.pwa import is_prefetch
from alt.frontend.ui.render import gettext, render
from alt.frontend.ui.route import is_htmx
from alt.frontend.ui.viewer import Viewer, ViewerDep
from alt.platform.errors import AltError
from alt.platform.logging import get_logger

PAGE_SIZE = 30
NAV_PAGE = 100
"""Subscriptions per call of the sidebar (alt-backend's largest page)."""
STATES = ("unread", "all", "starred")
OLDER_THAN = {
    "everything": timedelta(0),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
}
ACTIONS = {
    "read": ("PUT", "read", "read", True),
    "unread": ("DELETE", "read", "read", False),
    "star": ("PUT", "star", "starred", True),
    "unstar": ("DELETE", "star", "starred", False),
}
"""Action: (alt-backend method, its path's last part, the mark it changes, the mark's new value)."""

log = get_logger(__name__)


@dataclass(frozen=True)
class View:
    """One list of articles: which articles, and where it lives."""

    path: str
    state: str
    scope: str = "all"
    feed_id: int | None = None
    category_id: int | None = None

    def url(self, **query: str | None) -> str:
        """The view's path with its state (when not implied by the path) and `query`."""
        implied = self.scope == "all" or self.state == "unread"
        params = {"state": None if implied else self.state} | query
        clean = {name: value for name, value in params.items() if value}
        return self.path + ("?" + urlencode(clean) if clean else "")


def scoped_view(kind: str, ref: int, state: str | None) -> View:
    chosen = state if state in STATES else "unread"
    if kind == "feed":
        return View(f"/feeds/{ref}", chosen, "feed", feed_id=ref)
    return View(f"/categories/{ref}", chosen, "category", category_id=ref)


def heading(view: View, locale: str, feed_title: str | None, category: str | None) -> str:
    if view.feed_id is not None:
        return feed_title or gettext(locale, "This feed")
    if view.category_id is not None:
        return category or gettext(locale, "This category")
    if view.state == "starred":
        return gettext(locale, "Starred")
    return gettext(locale, "All articles") if view.state == "all" else gettext(locale, "Unread")


def web_link(url: Any) -> str | None:
    """`url` when it is an http(s) address: a feed's enclosures could say `javascript:`."""
    if isinstance(url, str) and urlsplit(url).scheme.lower() in ("http", "https"):
        return url
    return None


@cache
def words(locale: str) -> dict[str, str]:
    """Labels that every item of a list repeats, translated once per language."""
    return {
        "mark_read": gettext(locale, "Mark read"),
        "mark_unread": gettext(locale, "Mark unread"),
        "star": gettext(locale, "Star"),
        "unstar": gettext(locale, "Unstar"),
        "untitled": gettext(locale, "(untitled)"),
    }


def preference(viewer: Viewer, name: str) -> bool:
    return bool((viewer.user.get("preferences") or {}).get(name, False))


async def _category_name(api: Backend, category_id: int) -> str | None:
    listed = await api.get("/v1/categories")
    names = {c["id"]: c["name"] for c in listed["categories"]}
    return names.get(category_id)


async def _feed_title(api: Backend, feed_id: int, items: list[dict[str, Any]]) -> str | None:
    """The feed's title from its articles (a view with none shown asks for one of any state)."""
    if not items:
        items = (await api.get("/v1/articles", state="all", feed_id=feed_id, limit=1))["items"]
    return str(items[0]["feed"]["title"]) if items else None


async def list_page(
    request: Request, viewer: Viewer, view: View, cursor: str | None, part: str | None
) -> HTMLResponse:
    api = backend(request, viewer)
    articles = api.get(
        "/v1/articles",
        state=view.state,
        feed_id=view.feed_id,
        category_id=view.category_id,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    if view.category_id is not None:
        page, category = await asyncio.gather(articles, _category_name(api, view.category_id))
    else:
        page, category = await articles, None
    items = page["items"]
    following = page["next_cursor"]
    feed_title = await _feed_title(api, view.feed_id, items) if view.feed_id else None
    context = {
        "viewer": viewer,
        "words": words(viewer.locale),
        "view": view,
        "items": items,
        "back": view.url(),
        "next_url": view.url(cursor=following) if following else None,
        "more_url": view.url(cursor=following, part="items") if following else None,
        "first_page": cursor is None,
        "heading": heading(view, viewer.locale, feed_title, category),
        "mark_on_scroll": preference(viewer, "mark_read_on_scroll"),
        "newest": items[0]["published_at"] if items and cursor is None else None,
    }
    if part == "items" and is_htmx(request):
        return render(request, "reading/items.html", context)
    return render(request, "reading/list.html", context)


async def navigation(api: Backend) -> dict[str, Any]:
    """Every subscription (alt-backend pages them) and category, with unread counts."""
    subscriptions: list[dict[str, Any]] = []
    listed, page = await asyncio.gather(
        api.get("/v1/categories"), api.get("/v1/subscriptions", limit=NAV_PAGE)
    )
    while True:
        subscriptions += page["subscriptions"]
        if page["next_after"] is None:
            break
        page = await api.get("/v1/subscriptions", limit=NAV_PAGE, after=page["next_after"])
    subscriptions.sort(key=lambda s: str(s["title"]).casefold())
    return {
        "categories": listed["categories"],
        "subscriptions": subscriptions,
        "total": sum(int(s["unread_count"]) for s in subscriptions),
    }


def summary_body(article: dict[str, Any]) -> tuple[str | None, str]:
    """The article's HTML to show (sanitised by alt-backend, images through its proxy) and
    where it comes from: the full text extracted from its page, else the feed's content."""
    full = article.get("full_text") or {}
    if full.get("status") == "extracted" and full.get("html"):
        return full["html"], "page"
    return article.get("content_html"), "feed"


def opened_from_here(request: Request) -> bool:
    """Whether the reader opened the page from this site (a link of ours, a bookmark, a typed
    address), rather than from another site, or by coming back to it from itself (its own
    "Mark unread" button, which must not be undone), or the worker saving it for offline."""
    site = request.headers.get("sec-fetch-site")
    referer = urlsplit(request.headers.get("referer", ""))
    if site is None:  # a browser that does not say: only a referrer of ours will do
        same_site = f"{referer.scheme}://{referer.netloc}" == str(request.base_url).rstrip("/")
    else:
        same_site = site in ("same-origin", "none")
    from_itself = referer.path == request.url.path
    return same_site and not from_itself and not is_prefetch(request)


async def mark_read_on_open(request: Request, viewer: Viewer, article_id: int) -> None:
    """Opening an article is reading it, with or without JavaScript. alt-backend changes
    state only for a CSRF-checked user token: the edge vouches for this same-site navigation
    by checking the session's own token."""
    checked = await validate_session(request, unsafe=True, csrf=viewer.csrf)
    vouched = replace(viewer, token=checked["token"])
    await backend(request, vouched).send("PUT", f"/v1/articles/{article_id}/read")


async def marked_read_on_open(request: Request, viewer: Viewer, article_id: int) -> bool:
    """Whether opening marked it; the article is shown either way (the page's script tries
    again when it could not)."""
    try:
        await mark_read_on_open(request, viewer, article_id)
    except AltError as exc:
        log.warning("mark_read_on_open_failed", status=exc.status, code=exc.code)
        return False
    return True


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: value for name, value in form.items() if isinstance(value, str)}


def _before(form: dict[str, str]) -> datetime:
    """The cut of "mark all read": the chosen age, and never past the newest article the
    reader saw on the page (one that arrived since stays unread)."""
    older = OLDER_THAN.get(form.get("older", "everything"))
    if older is None:
        raise AltError(422, "validation_failed", "Choose how old the articles to mark are.")
    cut = datetime.now(UTC) - older
    try:
        seen = datetime.fromisoformat(form["upto"]) if form.get("upto") else None
    except ValueError:
        raise AltError(422, "validation_failed", "The form was changed; please reload.") from None
    if seen is not None and seen.tzinfo is not None:
        cut = min(cut, seen)
    return cut


def _scope_body(form: dict[str, str]) -> dict[str, Any]:
    scope = form.get("scope", "all")
    body: dict[str, Any] = {"scope": scope}
    try:
        if scope == "feed":
            body["feed_id"] = int(form.get("feed_id", ""))
        elif scope == "category":
            body["category_id"] = int(form.get("category_id", ""))
        elif scope != "all":
            raise ValueError(scope)
    except ValueError:
        raise AltError(422, "validation_failed", "The form was changed; please reload.") from None
    return body


def router(route_class: type[APIRoute], dependencies: Sequence[Any] = ()) -> APIRouter:
    r = APIRouter(route_class=route_class, dependencies=list(dependencies), include_in_schema=False)

    @r.get("/")
    async def unread(
        request: Request, viewer: ViewerDep, cursor: str | None = None, part: str | None = None
    ) -> HTMLResponse:
        return await list_page(request, viewer, View("/", "unread"), cursor, part)

    @r.get("/all")
    async def everything(
        request: Request, viewer: ViewerDep, cursor: str | None = None, part: str | None = None
    ) -> HTMLResponse:
        return await list_page(request, viewer, View("/all", "all"), cursor, part)

    @r.get("/starred")
    async def starred(
        request: Request, viewer: ViewerDep, cursor: str | None = None, part: str | None = None
    ) -> HTMLResponse:
        return await list_page(request, viewer, View("/starred", "starred"), cursor, part)

    @r.get("/feeds/{feed_id:int}")
    async def feed(
        feed_id: int,
        request: Request,
        viewer: ViewerDep,
        state: str | None = None,
        cursor: str | None = None,
        part: str | None = None,
    ) -> HTMLResponse:
        view = scoped_view("feed", feed_id, state)
        return await list_page(request, viewer, view, cursor, part)

    @r.get("/categories/{category_id:int}")
    async def category(
        category_id: int,
        request: Request,
        viewer: ViewerDep,
        state: str | None = None,
        cursor: str | None = None,
        part: str | None = None,
    ) -> HTMLResponse:
        view = scoped_view("category", category_id, state)
        return await list_page(request, viewer, view, cursor, part)

    @r.get("/nav")
    async def nav(request: Request, viewer: ViewerDep) -> HTMLResponse:
        # htmx names the page the sidebar goes into: its link is marked as the current one.
        current = urlsplit(request.headers.get("hx-current-url", "")).path or "/nav"
        context = {"viewer": viewer, "current": current}
        context |= await navigation(backend(request, viewer))
        template = "reading/nav.html" if is_htmx(request) else "reading/nav_page.html"
        return render(request, template, context)

    @r.get("/articles/{article_id:int}")
    async def article(article_id: int, request: Request, viewer: ViewerDep) -> HTMLResponse:
        api = backend(request, viewer)
        found = await api.get(f"/v1/articles/{article_id}")
        found["enclosures"] = [
            e for e in found["enclosures"] if isinstance(e, dict) and web_link(e.get("url"))
        ]
        if not found["read"] and opened_from_here(request):
            found["read"] = await marked_read_on_open(request, viewer, article_id)
        body, source = summary_body(found)
        context = {"viewer": viewer, "words": words(viewer.locale), "article": found}
        context |= {"body": body, "source": source}
        return render(request, "reading/article.html", context)

    def action(name: str) -> None:
        method, resource, mark, value = ACTIONS[name]

        @r.post(f"/articles/{{article_id:int}}/{name}", name=f"article_{name}")
        async def act(article_id: int, request: Request, viewer: ViewerDep) -> Response:
            form = await _form(request)
            await backend(request, viewer).send(method, f"/v1/articles/{article_id}/{resource}")
            back = safe_next(form.get("next"))
            if is_htmx(request):
                context = {"viewer": viewer, "words": words(viewer.locale), "id": article_id}
                context |= {"mark": mark, "on": value}
                return render(request, "reading/toggle.html", context | {"back": back})
            return RedirectResponse(back, status_code=303)

    for name in ACTIONS:
        action(name)

    @r.post("/mark-all-read")
    async def mark_all_read(request: Request, viewer: ViewerDep) -> Response:
        form = await _form(request)
        body = _scope_body(form) | {"before": _before(form).isoformat()}
        await backend(request, viewer).send("POST", "/v1/articles/mark-read", json=body)
        return RedirectResponse(safe_next(form.get("next")), status_code=303)

    return r
