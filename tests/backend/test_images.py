"""The image proxy (`alt.backend.images`), served for real: alt-backend on loopback fetching from
a real image origin on loopback (allowed by `ALT_FETCH_ALLOW_PRIVATE_HOSTS`, as for feeds), with
a canary listener that nothing may reach. INC-01, INC-02 and INC-03 of the security test plan."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import stat
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from alt.backend.images import (
    CACHE_IMAGE,
    KEY_FILE,
    ImageKeyError,
    image_key,
    parse_key,
    sign_image_url,
    signed_path,
    verify,
)
from alt.backend.settings import ImageProxySettings
from alt.config import ConfigError, Settings
from tests.backend.conftest import CORPUS, DEAD_HOST, BackendStack
from tests.backend.support import FeedOrigin
from tests.helpers import free_port, serving, with_overrides

CSP = "default-src 'none'; sandbox"
MAX_IMAGE_BYTES = 200_000
SVG = (CORPUS / "svg-script.svg").read_bytes()


def png(width: int = 2, height: int = 2) -> bytes:
    """A real, valid PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = png()
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501


class Listener:
    """A real HTTP server on 127.0.0.1:<port> that records every request path."""

    def __init__(self, routes: list[Route]) -> None:
        self.port = free_port()
        self.requests: list[str] = []
        self.app = Starlette(routes=routes)
        self._serving = contextlib.AsyncExitStack()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> Listener:
        await self._serving.enter_async_context(serving({self.port: self.app}))
        return self

    async def close(self) -> None:
        await self._serving.aclose()


class ImageOrigin(Listener):
    """Images, and things that are not images, as a site on the internet would serve them."""

    def __init__(self, canary: Listener | None = None) -> None:
        self.canary = canary
        super().__init__([Route("/{rest:path}", self._serve)])

    async def _serve(self, request: Request) -> Response:
        path = request.url.path
        self.requests.append(path)
        if path == "/pic.png":
            return Response(PNG, media_type="image/png")
        if path == "/pic.gif":
            return Response(GIF, media_type="image/gif")
        if path == "/mislabelled.gif":  # a PNG said to be a GIF: sent as what it is
            return Response(PNG, media_type="image/gif")
        if path == "/svg-script.svg":
            return Response(SVG, media_type="image/svg+xml")
        if path == "/svg-as.png":
            return Response(SVG, media_type="image/png")
        if path == "/png-as-html":
            return Response(PNG, media_type="text/html")
        if path == "/page.html":
            return Response(b"<script>alert(1)</script>", media_type="text/html")
        if path == "/big.png":
            return Response(PNG + b"\x00" * MAX_IMAGE_BYTES, media_type="image/png")
        if path == "/slow.png":
            await asyncio.sleep(float(request.query_params.get("s", "1.5")))
            return Response(PNG, media_type="image/png")
        if path == "/to-canary" and self.canary is not None:
            return RedirectResponse(self.canary.url("/secret"), status_code=302)
        return PlainTextResponse("not here", status_code=404)


def canary() -> Listener:
    hits = Listener([])

    async def record(request: Request) -> Response:
        hits.requests.append(request.url.path)
        return Response(PNG, media_type="image/png")

    hits.app = Starlette(routes=[Route("/{rest:path}", record)])
    return hits


@pytest.fixture(scope="module")
async def canary_listener() -> AsyncIterator[Listener]:
    listener = await canary().start()
    yield listener
    await listener.close()


@pytest.fixture(scope="module")
async def image_origin(canary_listener: Listener) -> AsyncIterator[ImageOrigin]:
    origin = await ImageOrigin(canary_listener).start()
    yield origin
    await origin.close()


@pytest.fixture(scope="module")
def fetch_env(feed_origin: FeedOrigin, dead_port: int, image_origin: ImageOrigin) -> Iterator[None]:
    """As for feeds, plus the image origin (never the canary), and a small image cap."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            "ALT_FETCH_ALLOW_PRIVATE_HOSTS",
            f"127.0.0.1:{feed_origin.port},127.0.0.1:{dead_port},{DEAD_HOST}:{dead_port},"
            f"127.0.0.1:{image_origin.port}",
        )
        patch.setenv("ALT_FETCH_CONNECT_TIMEOUT_S", "2")
        patch.setenv("ALT_FETCH_READ_TIMEOUT_S", "3")
        patch.setenv("ALT_FETCH_DEADLINE_IMAGE_S", "1")
        patch.setenv("ALT_FETCH_MAX_BYTES_IMAGE", str(MAX_IMAGE_BYTES))
        patch.delenv("ALT_IMAGE_PROXY_KEY", raising=False)
        yield


def backend_path(stack: BackendStack, url: str) -> str:
    return sign_image_url(url, settings=stack.settings, prefix="/v1/images")


async def get_image(stack: BackendStack, path: str) -> httpx.Response:
    """As the edge calls alt-backend for a browser (no user needed)."""
    async with stack.as_service("alt-frontend", "alt-backend") as client:
        return await client.get(path)


def assert_inert(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == "inline"


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert_inert(response)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["code"] == code


async def test_a_signed_image_is_served_inert_and_cacheable(
    stack: BackendStack, image_origin: ImageOrigin
) -> None:
    response = await get_image(stack, backend_path(stack, image_origin.url("/pic.png")))
    assert response.status_code == 200, response.text
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == CACHE_IMAGE == "public, max-age=86400, immutable"
    assert_inert(response)
    assert "set-cookie" not in response.headers

    gif = await get_image(stack, backend_path(stack, image_origin.url("/pic.gif")))
    assert gif.status_code == 200
    assert gif.headers["content-type"] == "image/gif"
    # The type sent is the one the bytes are, not the one the origin claims.
    mislabelled = await get_image(stack, backend_path(stack, image_origin.url("/mislabelled.gif")))
    assert mislabelled.status_code == 200
    assert mislabelled.headers["content-type"] == "image/png"


async def test_the_route_needs_a_service_of_the_deployment(stack: BackendStack) -> None:
    async with httpx.AsyncClient(base_url=stack.settings.service_url("alt-backend")) as nobody:
        response = await nobody.get(backend_path(stack, "https://example.org/a.png"))
    assert response.status_code == 401


# INC-01, INC-03: bad signatures refused; the error echoes nothing.
async def test_inc01_tampered_or_unsigned_urls_are_403_and_reflect_nothing(
    stack: BackendStack, image_origin: ImageOrigin
) -> None:
    payload = "http:a<script>alert('inc01')</script>"
    good = backend_path(stack, image_origin.url("/pic.png"))
    _, _, _, signature, encoded = good.split("/")
    evil = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    paths = [
        f"/v1/images/{signature}/{evil}",  # a signature for another URL
        f"/v1/images/{flipped}/{encoded}",  # one character changed
        f"/v1/images/{'A' * 43}/{evil}",  # made up
        "/v1/images/x/" + evil,  # not even the shape of a signature
        f"/v1/images/{signature}/%3Cscript%3Ealert('inc01')%3C",  # not base64url
        f"/v1/images/{signature}/{encoded}!!",
    ]
    before = len(image_origin.requests)
    for path in paths:
        response = await get_image(stack, path)
        assert_refused(response, 403, "bad_signature")
        assert "<script" not in response.text
        assert "inc01" not in response.text
        assert "127.0.0.1" not in response.text
    assert len(image_origin.requests) == before  # nothing was fetched


# INC-02: an SVG is never served as a document.
async def test_inc02_svg_is_never_served_as_a_document(
    stack: BackendStack, image_origin: ImageOrigin
) -> None:
    for path in ("/svg-script.svg", "/svg-as.png"):
        response = await get_image(stack, backend_path(stack, image_origin.url(path)))
        assert_refused(response, 415, "not_an_image")
        assert b"<svg" not in response.content
        assert b"<script" not in response.content


# INC-02: only raster types, checked by their bytes.
async def test_only_raster_images_are_relayed(
    stack: BackendStack, image_origin: ImageOrigin
) -> None:
    for path in ("/page.html", "/png-as-html"):
        response = await get_image(stack, backend_path(stack, image_origin.url(path)))
        assert_refused(response, 415, "not_an_image")
        assert b"alert" not in response.content


async def test_size_and_time_caps_and_missing_images(
    stack: BackendStack, image_origin: ImageOrigin
) -> None:
    big = await get_image(stack, backend_path(stack, image_origin.url("/big.png")))
    assert_refused(big, 502, "image_too_large")
    slow = await get_image(stack, backend_path(stack, image_origin.url("/slow.png?s=2.5")))
    assert_refused(slow, 504, "image_timeout")
    missing = await get_image(stack, backend_path(stack, image_origin.url("/nope.png")))
    assert_refused(missing, 404, "image_not_found")
    dead = await get_image(stack, backend_path(stack, f"{stack.dead_base}/a.png"))
    assert_refused(dead, 502, "image_unavailable")
    for response in (big, slow, missing, dead):
        assert str(image_origin.port) not in response.text


# INC-03: signed internal URLs go through the egress guard.
async def test_inc03_signed_internal_urls_are_blocked_and_the_canary_sees_nothing(
    stack: BackendStack, image_origin: ImageOrigin, canary_listener: Listener
) -> None:
    urls = [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        canary_listener.url("/secret"),  # loopback, another port than the allowed one
        f"http://localhost:{canary_listener.port}/secret",
        f"http://2130706433:{canary_listener.port}/secret",
        f"http://[::ffff:127.0.0.1]:{canary_listener.port}/secret",
        "file:///etc/passwd",
        image_origin.url("/to-canary"),  # an allowed origin redirecting inside
    ]
    for url in urls:
        response = await get_image(stack, backend_path(stack, url))
        assert_refused(response, 403, "image_blocked")
        assert "169.254" not in response.text
        assert str(canary_listener.port) not in response.text
    assert canary_listener.requests == []


# INC-03: a 256-bit key per install.
def test_inc03_the_key_is_per_install_256_bits_and_private(
    settings: Settings, tmp_path: Path
) -> None:
    unset = ImageProxySettings(key=None)
    settings_a = with_overrides(settings, ALT_DATA_DIR=str(tmp_path / "a"), images=unset)
    settings_b = with_overrides(settings_a, ALT_DATA_DIR=str(tmp_path / "b"), images=unset)
    key_a = image_key(settings_a)
    key_b = image_key(settings_b)
    assert len(key_a) * 8 >= 256
    assert key_a != key_b
    assert image_key(settings_a) == key_a  # kept, not made again
    key_file = tmp_path / "a" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert bytes.fromhex(key_file.read_text().strip()) == key_a
    # What one install signed, another does not accept.
    path = signed_path(key_a, "https://example.org/a.png", "/v1/images")
    _, _, _, signature, encoded = path.split("/")
    assert verify(key_a, signature, encoded) == "https://example.org/a.png"
    assert verify(key_b, signature, encoded) is None


def test_a_configured_key_must_have_256_bits(settings: Settings, tmp_path: Path) -> None:
    strong = os.urandom(32)
    assert parse_key(strong.hex()) == strong
    assert parse_key(base64.urlsafe_b64encode(strong).decode().rstrip("=")) == strong
    for weak in (os.urandom(16).hex(), "secret", ""):
        with pytest.raises(ImageKeyError, match="ALT_IMAGE_PROXY_KEY"):
            parse_key(weak)
    configured = with_overrides(
        settings, ALT_DATA_DIR=str(tmp_path / "c"), ALT_IMAGE_PROXY_KEY=strong.hex()
    )
    assert image_key(configured) == strong
    assert not (tmp_path / "c" / KEY_FILE).exists()
    for weak in (os.urandom(16).hex(), "secret", ""):
        with pytest.raises(ConfigError, match="ALT_IMAGE_PROXY_KEY"):
            with_overrides(settings, ALT_IMAGE_PROXY_KEY=weak)


def test_a_key_file_others_can_read_is_refused(settings: Settings, tmp_path: Path) -> None:
    exposed = with_overrides(
        settings, ALT_DATA_DIR=str(tmp_path / "d"), images=ImageProxySettings(key=None)
    )
    (tmp_path / "d").mkdir()
    key_file = tmp_path / "d" / KEY_FILE
    key_file.write_text(os.urandom(32).hex())
    key_file.chmod(0o644)
    with pytest.raises(ImageKeyError, match="chmod 600"):
        image_key(exposed)


async def test_browsers_load_images_through_the_edge(
    stack: BackendStack, image_origin: ImageOrigin
) -> None:
    """`sign_image_url` gives the edge's path; a logged-in browser loads it as is."""
    browser, _ = await stack.user("images@example.org")
    path = sign_image_url(image_origin.url("/pic.png"), settings=stack.settings)
    assert path.startswith("/api/v1/images/")
    response = await browser.http.get(path)
    assert response.status_code == 200, response.text
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == CACHE_IMAGE
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    svg = await browser.http.get(
        sign_image_url(image_origin.url("/svg-script.svg"), settings=stack.settings)
    )
    assert svg.status_code == 415
    assert b"<svg" not in svg.content
    tampered = await browser.http.get(path[:-2] + "xx")
    assert tampered.status_code == 403
