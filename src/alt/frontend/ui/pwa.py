"""The installable app: the web app manifest, the service worker and its offline page.

The worker's source is `static/sw.js`, served at `/sw.js` so that its scope is the whole site.
When it is served, the list of the app shell's files (every static file at its versioned URL,
and the offline page) and a version made from their hashes are written into it: a release
that changes any file changes the worker, whose install fills a new cache and whose activation
drops the old ones.

The worker keeps the newest unread articles' pages for offline reading; it asks
`/offline/articles.json` which ones (see static/sw.js for the rest: the offline queue of
read/star changes, clearing everything at logout).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute

from alt.frontend.ui.assets import REVALIDATE, asset_url, assets
from alt.frontend.ui.backend import backend
from alt.frontend.ui.render import gettext, locale_of, render
from alt.frontend.ui.viewer import ViewerDep

WORKER = "sw.js"
WORKER_BUILD = "const BUILD = null;"
"""The line of sw.js that the served worker gets its shell and version in."""
OFFLINE_PAGE = "/offline"
OFFLINE_TEMPLATE = "pwa/offline.html"
OFFLINE_ARTICLES = 200
ARTICLE_PAGE = 100
"""alt-backend's largest page of articles."""
THEME_COLOUR = "#1f5fbf"
BACKGROUND_COLOUR = "#ffffff"
MANIFEST_TYPE = "application/manifest+json"


def is_prefetch(request: Request) -> bool:
    """A page fetched ahead of being read (the worker saving it for offline reading, or the
    browser's own prefetch): fetching it is not opening it."""
    purpose = request.headers.get("sec-purpose") or request.headers.get("purpose") or ""
    return purpose.startswith("prefetch")


def manifest(locale: str) -> dict[str, Any]:
    return {
        "id": "/",
        "name": "Alt",
        "short_name": "Alt",
        "description": gettext(locale, "Your feeds, their full text and summaries."),
        "lang": locale,
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            {"src": asset_url("icons/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
            {"src": asset_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": asset_url("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": asset_url("icons/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }


@dataclass(frozen=True)
class WorkerBuild:
    version: str
    shell: list[str]

    @property
    def json(self) -> str:
        return json.dumps({"version": self.version, "shell": self.shell, "offline": OFFLINE_PAGE})


def build_of(worker: bytes, offline_template: bytes, shell: list[str]) -> WorkerBuild:
    """The worker's build: a version that changes whenever the worker, the offline page's
    template or any URL of the shell (which carries its file's hash) does."""
    digest = hashlib.sha256(worker + b"\0" + offline_template)
    for url in shell:
        digest.update(b"\0" + url.encode())
    return WorkerBuild(digest.hexdigest()[:12], shell)


@cache
def worker_build() -> WorkerBuild:
    """The build of this release: every static file at its version, and the offline page."""
    shell = [asset_url(name) for name in sorted(assets()) if name != WORKER] + [OFFLINE_PAGE]
    template = files("alt.frontend").joinpath("templates", OFFLINE_TEMPLATE).read_bytes()
    return build_of(assets()[WORKER].body, template, shell)


@cache
def worker_source() -> bytes:
    """sw.js with its build written in."""
    source = assets()[WORKER].body.decode()
    if source.count(WORKER_BUILD) != 1:
        raise RuntimeError(f"static/{WORKER} must hold the line {WORKER_BUILD!r} once")
    return source.replace(WORKER_BUILD, f"const BUILD = {worker_build().json};").encode()


async def unread_article_pages(request: Request, viewer: ViewerDep) -> list[str]:
    """The pages of the viewer's newest unread articles, newest first."""
    api = backend(request, viewer)
    pages: list[str] = []
    cursor = None
    while len(pages) < OFFLINE_ARTICLES:
        limit = min(ARTICLE_PAGE, OFFLINE_ARTICLES - len(pages))
        answer = await api.get("/v1/articles", state="unread", limit=limit, cursor=cursor)
        pages += [f"/articles/{item['id']}" for item in answer["items"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    return pages


def router(route_class: type[APIRoute], dependencies: Sequence[Any] = ()) -> APIRouter:
    r = APIRouter(route_class=route_class, dependencies=list(dependencies), include_in_schema=False)

    @r.get("/manifest.webmanifest")
    async def web_app_manifest(request: Request) -> JSONResponse:
        return JSONResponse(
            manifest(locale_of(request)),
            media_type=MANIFEST_TYPE,
            headers={"Cache-Control": REVALIDATE},
        )

    @r.get("/sw.js")
    async def service_worker() -> Response:
        # no-cache: the browser checks for a new release on every visit.
        return Response(
            worker_source(),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": REVALIDATE, "Service-Worker-Allowed": "/"},
        )

    @r.get(OFFLINE_PAGE)
    async def offline(request: Request) -> HTMLResponse:
        return render(request, OFFLINE_TEMPLATE)

    @r.get("/offline/articles.json")
    async def offline_articles(request: Request, viewer: ViewerDep) -> JSONResponse:
        return JSONResponse({"pages": await unread_article_pages(request, viewer)})

    return r
