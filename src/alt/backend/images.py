"""The image proxy: article images fetched by us and served from our origin, for URLs we signed.

    GET /v1/images/{signature}/{encoded_url}

`encoded_url` is the image's absolute URL in unpadded base64url (UTF-8); `signature` is the
unpadded base64url HMAC-SHA256 of that URL under the install's image key. Only URLs that we
emitted verify, so the proxy is no open relay (INC-03). The code that renders article HTML
rewrites every `<img src>` (and each `srcset` candidate) with `sign_image_url(url)`, after the
sanitiser has kept only http(s) URLs:

    from alt.backend.images import sign_image_url
    src = sign_image_url("https://example.org/a.png", settings=settings)  # "/api/v1/images/…"

**The key.** `ALT_IMAGE_PROXY_KEY` (at least 256 bits, as hex or base64url) when set, so that
replicas on several machines agree; otherwise `image-proxy.key` under `ALT_DATA_DIR`, made on
first use from `secrets` (256 bits, mode 0600) and kept. Every install has its own.

**Fetching** goes through the egress client (`kind="image"`): the SSRF policy on every address
and redirect hop, the `ALT_FETCH_*` image deadline and body cap. A signed URL naming a private
address is refused like any other fetch (INC-03 (a)): signing vouches that we emitted the URL,
not that it is safe. No host list is involved.

**Answers.** Only raster images: the declared type must be `image/*` and the first bytes must be
PNG, JPEG, GIF, WebP, AVIF, BMP or ICO, which is also the type we send. SVG (an active document:
scripts, links, foreignObject) is refused with 415 rather than rasterised (INC-02). Every answer,
errors included, carries `Content-Security-Policy: default-src 'none'; sandbox`,
`X-Content-Type-Options: nosniff` and `Content-Disposition: inline`; errors are the JSON envelope
with fixed messages that never repeat the URL (INC-01). An image is
`Cache-Control: public, max-age=86400, immutable`: the answer depends only on the signed URL,
which holds no user data, so any cache may keep it and share it, and a day bounds how long an
image changed or removed at its origin lives on. The route needs no user (images are the same
for everyone) but, like every alt-backend route, only services of the deployment reach it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import stat
from collections.abc import AsyncIterator, Callable, Coroutine
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from selectolax.lexbor import LexborHTMLParser

from alt.config import Settings
from alt.platform.egress import EgressClient, FetchError, FetchLimits
from alt.platform.errors import AltError, answer_error
from alt.platform.http_app import ServiceContext
from alt.platform.logging import get_logger

log = get_logger(__name__)

KEY_FILE = "image-proxy.key"
KEY_BYTES = 32
MIN_KEY_BYTES = 32
BACKEND_PREFIX = "/v1/images"
EDGE_PREFIX = "/api/v1/images"
SIGNATURE_CHARS = 43  # unpadded base64url of 32 bytes
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Content-Disposition": "inline",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Referrer-Policy": "no-referrer",
}
CACHE_IMAGE = "public, max-age=86400, immutable"
CACHE_ERROR = "no-store"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class ImageKeyError(Exception):
    """An unusable image key setting or key file; the message names it."""


# --- the key and signatures -----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict unpadded base64url: other characters, or another spelling of the same bytes,
    are refused (the standard decoder skips characters it does not know)."""
    if not _BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


def parse_key(text: str) -> bytes:
    """A key given as hex or base64url text, at least 256 bits."""
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        try:
            key = _unb64(text)
        except (ValueError, binascii.Error):
            raise ImageKeyError("ALT_IMAGE_PROXY_KEY: not hex or base64url") from None
    if len(key) < MIN_KEY_BYTES:
        raise ImageKeyError(
            f"ALT_IMAGE_PROXY_KEY: {len(key) * 8} bits; at least {MIN_KEY_BYTES * 8} are needed"
        )
    return key


def _key_file(data_dir: Path) -> bytes:
    """The install's key file, made (0600, atomically: concurrent starts agree) if missing."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = data_dir / f".{KEY_FILE}.{secrets.token_hex(8)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)  # never replaces a key another process made
        finally:
            temporary.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ImageKeyError(f"{path}: readable by others (mode {mode:o}); chmod 600 it")
    try:
        return parse_key(path.read_text())
    except ImageKeyError:
        raise ImageKeyError(f"{path}: not a key of at least 256 bits") from None


def image_key(settings: Settings) -> bytes:
    """The install's image key: `ALT_IMAGE_PROXY_KEY`, else the key file under the data dir."""
    configured = settings.images.key
    secret = configured.get_secret_value() if configured is not None else None
    return _cached_key(secret, settings.data_dir.resolve())


@lru_cache(maxsize=8)
def _cached_key(configured: str | None, data_dir: Path) -> bytes:
    return parse_key(configured) if configured else _key_file(data_dir)


def _signature(key: bytes, url: bytes) -> str:
    return _b64(hmac.new(key, url, hashlib.sha256).digest())


def signed_path(key: bytes, url: str, prefix: str = EDGE_PREFIX) -> str:
    """`{prefix}/{signature}/{encoded_url}` for `url` under `key`."""
    raw = url.encode("utf-8")
    return f"{prefix}/{_signature(key, raw)}/{_b64(raw)}"


def sign_image_url(url: str, *, settings: Settings, prefix: str = EDGE_PREFIX) -> str:
    """The path a browser loads `url` through (the edge's, by default), signed with the
    install's key. Pass only http(s) URLs that the sanitiser kept; anything else is refused
    when it is requested."""
    return signed_path(image_key(settings), url, prefix)


def proxy_images(html: str | None, key: bytes) -> str | None:
    """Sanitised article HTML with every image (src and srcset) loaded through the proxy, so
    reading an article tells no image host who reads it or from where."""
    if not html or "<img" not in html:
        return html
    tree = LexborHTMLParser(html)
    if tree.body is None:
        return html
    for img in tree.body.css("img"):
        src = img.attributes.get("src")
        if src and src.startswith(("http://", "https://")):
            img.attrs["src"] = signed_path(key, src)
        srcset = img.attributes.get("srcset")
        if srcset:
            candidates = (_signed_candidate(key, c) for c in srcset.split(","))
            img.attrs["srcset"] = ", ".join(c for c in candidates if c)
    return tree.body.inner_html or ""


def _signed_candidate(key: bytes, candidate: str) -> str:
    url, _, descriptor = candidate.strip().partition(" ")
    if not url.startswith(("http://", "https://")):
        return ""
    return f"{signed_path(key, url)} {descriptor}".strip()


def verify(key: bytes, signature: str, encoded_url: str) -> str | None:
    """The URL of a path we signed, or None (malformed, tampered, or signed by another key)."""
    if len(signature) != SIGNATURE_CHARS or len(encoded_url) > 8192:
        return None
    try:
        raw = _unb64(encoded_url)
        url = raw.decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(signature.encode("ascii", "replace"), _signature(key, raw).encode()):
        return None
    return url


# --- what we serve --------------------------------------------------------------------------


def raster_type(body: bytes) -> str | None:
    """The raster image type of `body` from its first bytes, or None."""
    if body.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if body.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if body.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    if body[4:8] == b"ftyp" and body[8:12] in (b"avif", b"avis"):
        return "image/avif"
    if body.startswith(b"BM") and len(body) > 26:
        return "image/bmp"
    if body.startswith(b"\x00\x00\x01\x00"):
        return "image/x-icon"
    return None


def _refusal(exc: FetchError) -> AltError:
    """A fetch failure as the envelope, in words that never carry the URL or an address."""
    if exc.reason in ("blocked", "invalid_url"):
        return AltError(403, "image_blocked", "This image's address may not be fetched.")
    if exc.reason == "timeout":
        return AltError(504, "image_timeout", "The image's site did not answer in time.")
    if exc.reason == "too_large":
        return AltError(502, "image_too_large", "The image is larger than we relay.")
    if exc.reason == "http_status" and exc.status in (404, 410):
        return AltError(404, "image_not_found", "The image's site does not have it.")
    return AltError(502, "image_unavailable", "The image's site did not give us the image.")


class ImageRoute(APIRoute):
    """Every answer (errors included) is inert where it lands; only images are cacheable."""

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handle(request)
            except Exception as exc:
                response = await answer_error(request, exc)
            for name, value in SECURITY_HEADERS.items():
                response.headers[name] = value
            if response.status_code != 200:
                response.headers["Cache-Control"] = CACHE_ERROR
            return response

        return guarded


class ImageProxy:
    """The key and the egress client (its own, opened by `lifecycle`) of the proxy route."""

    def __init__(self, settings: Settings, limits: FetchLimits) -> None:
        self.key = image_key(settings)
        self.limits = limits
        self._client: EgressClient | None = None

    @contextlib.asynccontextmanager
    async def lifecycle(self, ctx: ServiceContext) -> AsyncIterator[None]:
        async with EgressClient(ctx.settings, self.limits) as client:
            self._client = client
            try:
                yield
            finally:
                self._client = None

    @property
    def client(self) -> EgressClient:
        if self._client is None:  # pragma: no cover - the route only runs while started
            raise AltError(503, "unavailable", "The image proxy is not running.")
        return self._client


IMAGE_PROXY_STATE = "image_proxy"
"""Where `alt.backend.service` puts the `ImageProxy` on the app's state."""


async def image_proxy(request: Request) -> ImageProxy:
    proxy: ImageProxy = getattr(request.app.state, IMAGE_PROXY_STATE)
    return proxy


Proxy = Annotated[ImageProxy, Depends(image_proxy)]

router = APIRouter(route_class=ImageRoute, tags=["images"])


@router.get(
    BACKEND_PREFIX + "/{signature}/{encoded_url}",
    response_class=Response,
    responses={
        200: {"content": {"image/*": {}}, "description": "The image."},
        403: {"description": "Not a URL we signed, or an address we do not fetch."},
        404: {"description": "The image's site does not have it."},
        415: {"description": "Not a raster image (SVG included)."},
        502: {"description": "The image's site failed, or the image is over the size cap."},
        504: {"description": "The image's site did not answer in time."},
    },
)
async def image(signature: str, encoded_url: str, proxy: Proxy) -> Response:
    """An article image, fetched for a URL that we signed (`sign_image_url`)."""
    url = verify(proxy.key, signature, encoded_url)
    if url is None:
        raise AltError(403, "bad_signature", "This image link is not valid.")
    try:
        result = await proxy.client.fetch(url, kind="image")
    except FetchError as exc:
        raise _refusal(exc) from None
    declared = result.content_type or ""
    sniffed = raster_type(result.body)
    if not declared.startswith("image/") or "svg" in declared or sniffed is None:
        log.info("image_refused", declared=declared[:64])
        raise AltError(415, "not_an_image", "Only raster images are relayed.")
    return Response(
        result.body,
        media_type=sniffed,
        headers={"Cache-Control": CACHE_IMAGE, "ETag": f'"{signature}"'},
    )
