"""The UI's static files: the vendored front-end packages are the ones the lockfile pins, and
the edge serves every file with a cache-busting version, gzip and a strict CSP on pages."""

from __future__ import annotations

import gzip
import json

from alt.frontend.ui.assets import asset_url, assets
from tests.backend.conftest import BackendStack
from tests.ui.conftest import ROOT

VENDORED = {"vendor/htmx.min.js": "htmx.org/dist/htmx.min.js"}


def test_vendored_files_are_the_locked_packages_builds() -> None:
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())
    for served, built in VENDORED.items():
        package = built.split("/dist/")[0]
        assert lock["packages"][f"node_modules/{package}"]["version"]  # pinned
        shipped = (ROOT / "src" / "alt" / "frontend" / "static" / served).read_bytes()
        assert shipped == (ROOT / "web" / "node_modules" / built).read_bytes(), served


async def test_static_files_are_cached_by_version_and_gzipped(stack: BackendStack) -> None:
    browser = stack.browser()
    url = asset_url("js/app.js")
    answer = await browser.http.get(url, headers={"accept-encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert "immutable" in answer.headers["cache-control"]
    assert answer.content == assets()["js/app.js"].body  # httpx undid the gzip
    assert gzip.decompress(assets()["js/app.js"].gzipped) == answer.content
    stale = await browser.http.get("/static/js/app.js?v=old")
    assert stale.headers["cache-control"] == "no-cache"
    again = await browser.http.get(url, headers={"if-none-match": answer.headers["etag"]})
    assert again.status_code == 304
    assert (await browser.http.get("/static/../pyproject.toml")).status_code == 404
    assert (await browser.http.get("/static/nothing.js")).status_code == 404


async def test_pages_carry_a_strict_csp(stack: BackendStack) -> None:
    page = await stack.browser().http.get("/login")
    policy = dict(
        part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in page.headers["content-security-policy"]
