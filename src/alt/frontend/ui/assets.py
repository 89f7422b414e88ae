"""The UI's static files (our CSS and scripts, the vendored front-end packages, icons), served by
alt-frontend from memory.

Every file is read once at start, with a gzip copy and a content hash: pages link to
`/static/<path>?v=<hash>`, which browsers may cache for a year (a new release changes the hash),
and a gzip-capable browser gets the compressed bytes without compressing per request.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from alt.platform.errors import AltError

STATIC_PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    version: str


def _walk(folder: Traversable, prefix: str = "") -> dict[str, Traversable]:
    found: dict[str, Traversable] = {}
    for entry in folder.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            found |= _walk(entry, name + "/")
        elif not entry.name.startswith("."):
            found[name] = entry
    return found


@cache
def assets() -> dict[str, Asset]:
    """Every static file by its path under `static/`."""
    loaded: dict[str, Asset] = {}
    for name, entry in _walk(files("alt.frontend").joinpath("static")).items():
        body = entry.read_bytes()
        suffix = "." + name.rsplit(".", 1)[-1]
        media_type = (
            _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
        loaded[name] = Asset(
            body,
            gzip.compress(body, compresslevel=9, mtime=0),
            media_type,
            hashlib.sha256(body).hexdigest()[:12],
        )
    return loaded


def asset_url(name: str) -> str:
    """The cache-busting URL of a static file; a missing file is a bug in a template."""
    return f"{STATIC_PREFIX}{name}?v={assets()[name].version}"


def router(route_class: type[APIRoute]) -> APIRouter:
    r = APIRouter(route_class=route_class, include_in_schema=False)

    @r.get(STATIC_PREFIX + "{name:path}")
    async def static_file(name: str, request: Request, v: str | None = None) -> Response:
        asset = assets().get(name)
        if asset is None:
            raise AltError(404, "not_found", "Not found.")
        cache = IMMUTABLE if v == asset.version else REVALIDATE
        headers = {"Cache-Control": cache, "ETag": f'"{asset.version}"', "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == f'"{asset.version}"':
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    return r
