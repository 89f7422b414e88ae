"""PAR-08 to PAR-14 and INC-10 in a real browser: the attack corpus's script-bearing feeds and
its malicious article page, fetched and stored by the real pipeline, rendered by the reader's
list and article pages at phone and desktop widths, run nothing.

The trap: before any page script, `alert`, `confirm`, `prompt`, `print`, `open`, `fetch` and
`XMLHttpRequest` to other origins are replaced by recorders (the corpus's payloads call
`alert('<marker>')`); the `ui` fixture fails the test on any page error, console error or CSP
violation (a blocked inline handler would be one), and `/csp-report` must receive nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.backend.support import FeedOrigin
from tests.helpers import free_port, serving
from tests.support.waiting import until
from tests.ui.conftest import DESKTOP, PHONE, UI

CORPUS = Path(__file__).resolve().parents[1] / "feeds" / "corpus"
FEEDS = {
    "xss-items.rss": "application/rss+xml",
    "xss-items.atom": "application/atom+xml",
    "json-feed-malicious.json": "application/feed+json",
    "unicode-spoof.rss": "application/rss+xml",
}
TRAP = """
(() => {
  const calls = [];
  Object.defineProperty(window, "__trapped", { value: calls });
  for (const name of ["alert", "confirm", "prompt", "print", "open"]) {
    window[name] = (...args) => { calls.push(name + ": " + String(args[0])); return null; };
  }
  const here = location.origin;
  const foreign = (url) => {
    try { return new URL(String(url), here).origin !== here; } catch { return true; }
  };
  const realFetch = window.fetch;
  window.fetch = (input, init) => {
    const url = typeof input === "string" ? input : input.url;
    if (foreign(url)) calls.push("fetch: " + url);
    return realFetch.call(window, input, init);
  };
  const realOpen = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    if (foreign(url)) calls.push("xhr: " + url);
    return realOpen.call(this, method, url, ...rest);
  };
})();
"""
INC09_TITLE = '" onmouseover="alert(\'inc09\')" x="'
INC09_AUTHOR = "'><svg onload=alert('inc09b')>"
INC09_FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel>'
    "<title>&quot; onmouseover=&quot;alert('inc09')&quot; x=&quot;</title>"
    "<link>https://feed.example/</link><item><title>&quot; onmouseover=&quot;alert('inc09')"
    "&quot; x=&quot;</title><author>a@feed.example ('&gt;&lt;svg onload=alert('inc09b')&gt;)"
    "</author><guid>inc09</guid><description>Attribute contexts.</description></item>"
    "</channel></rss>"
)
REFUSED_IMAGES = """() => performance.getEntriesByType("resource").filter(
  (e) => e.name.includes("/api/v1/images/") && e.responseStatus >= 400).length"""


class CorpusOrigin:
    """The corpus's feeds, and a feed whose one item links to the malicious article page."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.app = Starlette(routes=[Route("/{name:path}", self._file)])

    async def _file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name == "inc09.rss":
            return Response(INC09_FEED, media_type="application/rss+xml")
        if name == "article-feed.rss":
            link = f"{self.base}/article-page-malicious.html"
            body = (
                '<?xml version="1.0"?><rss version="2.0"><channel><title>Article page</title>'
                f"<link>{self.base}/</link><item><title>Malicious page</title><link>{link}</link>"
                "<guid>page-1</guid><description>See the page.</description></item>"
                "</channel></rss>"
            )
            return Response(body, media_type="application/rss+xml")
        path = CORPUS / name
        if name not in (*FEEDS, "article-page-malicious.html") or not path.is_file():
            return Response("not here", status_code=404)
        media_type = FEEDS.get(name, "text/html; charset=utf-8")
        return Response(path.read_bytes(), media_type=media_type)


@pytest.fixture(scope="module")
async def corpus_origin() -> AsyncIterator[CorpusOrigin]:
    origin = CorpusOrigin()
    async with serving({origin.port: origin.app}):
        yield origin


@pytest.fixture(scope="module")
def fetch_env(
    feed_origin: FeedOrigin, dead_port: int, corpus_origin: CorpusOrigin
) -> Iterator[None]:
    """The stack's egress policy, with the corpus origin let through too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            "ALT_FETCH_ALLOW_PRIVATE_HOSTS",
            f"127.0.0.1:{feed_origin.port},127.0.0.1:{dead_port},127.0.0.1:{corpus_origin.port}",
        )
        patch.setenv("ALT_FETCH_CONNECT_TIMEOUT_S", "2")
        patch.setenv("ALT_FETCH_READ_TIMEOUT_S", "3")
        yield


async def subscribed_articles(
    ui: UI, corpus_origin: CorpusOrigin, names: list[str]
) -> list[dict[str, Any]]:
    """Subscribe the logged-in browser to the corpus feeds; every article it then has."""
    request = ui.context.request
    csrf = await ui.page.locator('meta[name="csrf-token"]').get_attribute("content")
    for name in names:
        answer = await request.post(
            ui.url("/api/v1/subscriptions"),
            data={"url": f"{corpus_origin.base}/{name}"},
            headers={"X-CSRF-Token": csrf or "", "Origin": ui.base},
        )
        assert answer.ok, (name, await answer.text())
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"state": "all", "limit": "100"} | ({"cursor": cursor} if cursor else {})
        page = await (await request.get(ui.url("/api/v1/articles"), params=params)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def csp_reports() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "alt_csp_violations"
        for sample in metric.samples
        if sample.name == "alt_csp_violations_total"
    )


async def assert_nothing_ran(ui: UI) -> None:
    trapped = await ui.page.evaluate("window.__trapped")
    assert trapped == [], trapped
    # The corpus's images point at nothing: the image proxy's refusals are expected (one
    # "Failed to load resource" each, whichever address the browser names), nothing else is.
    refused = await ui.page.evaluate(REFUSED_IMAGES)
    kept: list[str] = []
    for problem in ui.problems:
        if refused > 0 and "Failed to load resource" in problem:
            refused -= 1
        else:
            kept.append(problem)
    ui.problems[:] = kept


async def assert_links_are_web_links(ui: UI) -> None:
    """PAR-09/PAR-10: every link of the page is ours, http(s) or mailto; new-tab links cannot
    reach their opener."""
    links = await ui.page.eval_on_selector_all(
        "a[href]",
        "links => links.map(a => [a.href, a.target, a.rel])",
    )
    for href, target, rel in links:
        assert href.startswith(("http://", "https://", "mailto:")), href
        if target == "_blank":
            assert {"noopener", "noreferrer"} <= set(rel.split()), (href, rel)


async def test_the_corpus_feeds_run_nothing_in_lists(ui: UI, corpus_origin: CorpusOrigin) -> None:
    """PAR-08, PAR-09, PAR-10, PAR-14 in the lists, at phone and desktop widths."""
    await ui.context.add_init_script(TRAP)
    await ui.new_user("xss-lists@example.org")
    items = await subscribed_articles(ui, corpus_origin, list(FEEDS))
    assert len(items) >= 50
    before = csp_reports()
    for size in (PHONE, DESKTOP):
        await ui.page.set_viewport_size(size)
        for path in ("/all", "/"):
            await ui.goto(path)
            await assert_nothing_ran(ui)
            await assert_links_are_web_links(ui)
    # PAR-14: template syntax is shown as it is, never evaluated.
    await ui.goto("/all")
    assert "{{ 7*7 }}" in await ui.page.inner_text("main") or "{{7*7}}" in await ui.page.inner_text(
        "main"
    )
    assert csp_reports() == before


async def test_every_corpus_article_page_runs_nothing(ui: UI, corpus_origin: CorpusOrigin) -> None:
    """PAR-08, PAR-09, PAR-10, PAR-11 on every article page, clicking what it contains."""
    await ui.context.add_init_script(TRAP)
    await ui.new_user("xss-articles@example.org")
    items = await subscribed_articles(ui, corpus_origin, list(FEEDS))
    before = csp_reports()
    await ui.page.set_viewport_size(PHONE)
    for item in items:
        await ui.goto(f"/articles/{item['id']}")
        await assert_nothing_ran(ui)
        await assert_links_are_web_links(ui)
        # Clicking what is in the article (never following a link off the page) runs nothing.
        for element in await ui.page.locator(".reader-body :is(img, svg, button)").all():
            await element.click(force=True, no_wait_after=True, timeout=2000)
        await assert_nothing_ran(ui)
        # PAR-11: no feed-made overlay and no password field.
        assert await ui.page.locator("input[type=password]").count() == 0
    assert csp_reports() == before


async def test_titles_are_isolated_from_the_page_text(ui: UI, corpus_origin: CorpusOrigin) -> None:
    """PAR-13: a title with an unclosed right-to-left override cannot flip the UI around it."""
    await ui.new_user("xss-bidi@example.org")
    items = await subscribed_articles(ui, corpus_origin, ["unicode-spoof.rss"])
    await ui.goto("/all")
    titles = ui.page.locator("main .item-title [dir=auto]")
    assert await titles.count() == min(len(items), 30) > 0
    await ui.goto(f"/articles/{items[0]['id']}")
    assert await ui.page.locator("main h1[dir=auto], main h1 bdi").count() == 1


async def test_the_malicious_article_page_is_shown_sanitised(
    ui: UI, corpus_origin: CorpusOrigin
) -> None:
    """INC-10: the full text of a page full of scripts, forms, frames and overlays is shown
    as sanitised text on our origin, and runs nothing."""
    await ui.context.add_init_script(TRAP)
    await ui.new_user("xss-page@example.org")
    [item] = await subscribed_articles(ui, corpus_origin, ["article-feed.rss"])
    request = ui.context.request

    async def extracted() -> bool:
        answer = await request.get(ui.url(f"/api/v1/articles/{item['id']}"))
        full = (await answer.json())["full_text"]
        return bool(full and full["status"] in ("extracted", "failed", "skipped"))

    await until(extracted, 60, "the article page's extraction")
    before = csp_reports()
    await ui.goto(f"/articles/{item['id']}")
    await assert_nothing_ran(ui)
    await assert_links_are_web_links(ui)
    html = await ui.page.inner_html("article .reader-body")
    for tag in ("<script", "<iframe", "<form", "<base", "<meta", "<template", "<object", "<svg"):
        assert tag not in html.lower(), tag
    assert await ui.page.locator("input[type=password]").count() == 0
    assert csp_reports() == before


async def test_a_title_made_to_break_out_of_attributes_stays_text(
    ui: UI, corpus_origin: CorpusOrigin
) -> None:
    """INC-09: a feed and item title and an author written to escape an HTML attribute are
    shown literally in text, in `<title>`, in attributes (the rename form's value and
    placeholder) and in the navigation; hovering them runs nothing."""
    await ui.context.add_init_script(TRAP)
    await ui.new_user("xss-attributes@example.org")
    [item] = await subscribed_articles(ui, corpus_origin, ["inc09.rss"])
    subscriptions = await (await ui.context.request.get(ui.url("/api/v1/subscriptions"))).json()
    [subscription] = subscriptions["subscriptions"]
    for path in (
        "/",
        f"/articles/{item['id']}",
        f"/feeds/{item['feed']['id']}",
        "/subscriptions",
        f"/subscriptions/{subscription['id']}",
        "/nav",
    ):
        await ui.goto(path)
        for link in await ui.page.locator("main :is(a, h1, input):visible").all():
            await link.hover(force=True, timeout=2000)
        await assert_nothing_ran(ui)
        assert await ui.page.locator("svg[onload], [onmouseover]").count() == 0, path
    await ui.goto(f"/articles/{item['id']}")
    assert INC09_TITLE in await ui.page.title()
    assert INC09_TITLE in await ui.page.inner_text("main h1")
    await ui.goto(f"/subscriptions/{subscription['id']}")
    assert await ui.page.locator("#title").get_attribute("placeholder") == INC09_TITLE
