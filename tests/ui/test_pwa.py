"""The installable app in a real browser: the manifest and its icons, Chromium's installability
checks, the service worker (the app shell offline, the saved unread articles, the queue of
read/star changes made offline, everything of the user's gone at logout) and the offline page."""

from __future__ import annotations

import asyncio
import re
import struct
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Request, expect

from alt.frontend.ui.assets import asset_url, assets
from alt.frontend.ui.pwa import OFFLINE_PAGE, build_of, worker_build
from tests.backend.conftest import BackendStack
from tests.backend.test_articles import make_feed
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, UI

WAIT_S = 30
POLL_MS = 100
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ACTIVATED = """async () => {
  const worker = (await navigator.serviceWorker.ready).active;
  if (worker.state !== "activated") {
    await new Promise((done) => worker.addEventListener("statechange", () => {
      if (worker.state === "activated") done();
    }));
  }
  return navigator.serviceWorker.controller !== null;
}"""
# A function, not an expression: Playwright would eval() an expression, which the CSP forbids.
CONTROLLED = "() => navigator.serviceWorker.controller !== null"
CACHE_NAMES = "async () => await caches.keys()"
SAVED_PAGES = """async () => {
  const name = (await caches.keys()).find((key) => key.startsWith("alt-articles-"));
  if (!name) return null;
  const keys = await (await caches.open(name)).keys();
  return keys.map((request) => new URL(request.url).pathname);
}"""
ONLINE_EVENT = "window.dispatchEvent(new Event('online'))"
CACHED_URLS = """async () => {
  const urls = [];
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
  }
  return urls;
}"""
QUEUED = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("alt-offline", 1);
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const count = open.result.transaction("queue").objectStore("queue").count();
    count.onsuccess = () => resolve(count.result);
  };
})"""
# A read/star button's request as htmx sends it (js/app.js adds the CSRF header).
POST_AS_HTMX = """async ([path, csrf]) => (await fetch(path, {
  method: "POST", headers: {"X-CSRF-Token": csrf, "HX-Request": "true"},
})).status"""
ARTICLE_URL = re.compile(r"http://[^/]+/articles/\d+")


def png_size(body: bytes) -> tuple[int, int]:
    assert body.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", body[16:24])
    return width, height


class OfflineProblems(list[str]):
    """The problems of a browser that went offline, less the loads that losing the connection
    cut (a list page's live-counts stream or sidebar, in flight at that moment)."""

    def append(self, problem: str) -> None:
        if "net::ERR_INTERNET_DISCONNECTED" not in problem:
            super().append(problem)


async def go_offline(ui: UI) -> None:
    ui.problems = OfflineProblems(ui.problems)
    await ui.context.set_offline(True)


async def controlled(ui: UI) -> None:
    """The worker is installed (the shell cached), active, and controls the page. A page whose
    navigation began before the worker was active stays uncontrolled (claiming takes only the
    pages that exist), so such a page is loaded again."""
    if not await ui.page.evaluate(ACTIVATED):
        await ui.page.reload()
    await ui.page.wait_for_function(CONTROLLED)


def add_articles(ui: UI, feed_id: int, count: int) -> list[int]:
    """`count` articles as ingestion leaves them (sanitised HTML), a minute apart; their ids
    newest first."""
    rows = ui.stack.app(
        "INSERT INTO articles (feed_id, entry_hash, title, url, published_at, content_html)"
        " SELECT %(feed)s, sha256(convert_to(%(feed)s || '/' || g, 'UTF8')),"
        "        'Story ' || g, 'https://example.org/' || %(feed)s || '/' || g,"
        "        now() - g * interval '1 minute', '<p>The text of story ' || g || '.</p>'"
        "   FROM generate_series(1, %(count)s) g ORDER BY g RETURNING id",
        {"feed": feed_id, "count": count},
    )
    return [row["id"] for row in rows]


async def reader_with_articles(ui: UI, email: str, count: int) -> list[int]:
    """A user subscribed to a feed of `count` articles (ids newest first), then logged in
    through the form (so that the first page the worker sees has them)."""
    feed_name = email.split("@")[0]
    feed_id = make_feed(ui.stack, feed_name)
    article_ids = add_articles(ui, feed_id, count)
    http, _ = await ui.stack.user(email)
    feed = {"url": ui.stack.feeds.url(f"/feeds/{feed_name}.xml")}
    made = await http.call("POST", "/api/v1/subscriptions", feed)
    assert made.json()["feed"]["id"] == feed_id
    await ui.login(email)
    return article_ids


async def api(ui: UI, method: str, path: str, body: Any = None) -> Any:
    """alt-backend's API through the edge, with the browser's session (and, to change
    something, the CSRF token of the page)."""
    headers = {}
    if method != "GET":
        csrf = await ui.page.get_attribute('meta[name="csrf-token"]', "content")
        headers["X-CSRF-Token"] = csrf or ""
    response = await ui.context.request.fetch(
        ui.url("/api" + path), method=method, headers=headers, data=body
    )
    assert response.ok, await response.text()
    return await response.json() if response.status != 204 else None


async def test_the_manifest_describes_the_app_and_its_icons_load(ui: UI) -> None:
    answer = await ui.context.request.get(ui.url("/manifest.webmanifest"))
    assert answer.headers["content-type"] == "application/manifest+json"
    manifest = await answer.json()
    assert manifest["name"] == manifest["short_name"] == "Alt"
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == (
        "/",
        "/",
        "standalone",
    )
    assert manifest["lang"] == "en"
    assert manifest["theme_color"]
    assert manifest["background_color"]
    sizes = {}
    for icon in manifest["icons"]:
        loaded = await ui.context.request.get(ui.url(icon["src"]))
        assert loaded.ok
        assert loaded.headers["content-type"] == icon["type"]
        if icon["type"] == "image/png":
            width, height = png_size(await loaded.body())
            assert icon["sizes"] == f"{width}x{height}"
            sizes[icon.get("purpose", "any"), width] = icon["src"]
    assert set(sizes) == {("any", 192), ("any", 512), ("maskable", 512)}


async def test_the_manifest_speaks_the_browsers_language(ui: UI) -> None:
    answer = await ui.context.request.get(
        ui.url("/manifest.webmanifest"), headers={"Accept-Language": "ja"}
    )
    manifest = await answer.json()
    assert manifest["lang"] == "ja"
    assert manifest["description"] == "購読フィードと、その全文と要約。"


async def test_chromium_finds_no_manifest_or_installability_error(
    stack: BackendStack, chromium: Browser, tmp_path: Path
) -> None:
    # A profile on disk: Chromium offers no installing in an incognito profile (a new context's).
    context = await chromium.browser_type.launch_persistent_context(
        tmp_path / "profile", executable_path=CHROMIUM, args=CHROMIUM_ARGS, viewport=DESKTOP
    )
    try:
        ui = UI(stack, context, await context.new_page())
        await ui.new_user("install@example.org")
        await controlled(ui)
        cdp = await context.new_cdp_session(ui.page)
        manifest = await cdp.send("Page.getAppManifest")
        assert manifest["url"] == ui.url("/manifest.webmanifest")
        assert manifest["errors"] == []
        installability = await cdp.send("Page.getInstallabilityErrors")
        assert installability["installabilityErrors"] == []
    finally:
        await context.close()


async def test_the_worker_is_served_at_the_root_and_revalidated(ui: UI) -> None:
    answer = await ui.context.request.get(ui.url("/sw.js"))
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["service-worker-allowed"] == "/"
    build = worker_build()
    assert f"const BUILD = {build.json};" in await answer.text()
    versioned = {asset_url(name) for name in assets() if name != "sw.js"}
    assert set(build.shell) == versioned | {OFFLINE_PAGE}


def test_the_workers_version_changes_with_any_file_of_the_shell() -> None:
    worker, template, shell = b"worker", b"offline", ["/static/a.css?v=1", "/static/b.js?v=1"]
    version = build_of(worker, template, shell).version
    assert build_of(worker, template, list(shell)).version == version
    changed = [
        build_of(b"worker 2", template, shell),
        build_of(worker, b"offline 2", shell),
        build_of(worker, template, ["/static/a.css?v=2", "/static/b.js?v=1"]),
        build_of(worker, template, shell[:1]),
    ]
    assert version not in {build.version for build in changed}


async def test_the_worker_installs_and_controls_the_page(ui: UI) -> None:
    await ui.new_user("worker@example.org")
    await controlled(ui)
    names = await ui.page.evaluate(CACHE_NAMES)
    assert f"alt-shell-{worker_build().version}" in names
    assert [name for name in names if name.startswith("alt-shell-")] == [
        f"alt-shell-{worker_build().version}"
    ]


async def test_offline_a_reload_shows_the_shell_and_the_offline_page(ui: UI) -> None:
    await ui.new_user("offline@example.org")
    await controlled(ui)
    await go_offline(ui)
    await ui.page.reload()
    assert await ui.page.title() == "Offline · Alt"
    assert await ui.page.get_by_role("heading", name="You are offline").is_visible()
    # The shell's style sheet came from the cache: the top bar is laid out.
    assert await ui.page.eval_on_selector(".topbar", "el => getComputedStyle(el).display") == "flex"


async def test_the_worker_caches_nothing_but_the_shell_and_article_pages(ui: UI) -> None:
    article, *_ = await reader_with_articles(ui, "nothing-else@example.org", 3)
    await controlled(ui)
    await saved_pages(ui, 3)
    await ui.page.reload()
    await api(ui, "GET", "/v1/articles")
    await api(ui, "POST", "/v1/articles/read", {"ids": [article]})
    await ui.page.evaluate("fetch('/offline/articles.json')")
    cached = await ui.page.evaluate(CACHED_URLS)
    shell = {ui.url(url) for url in worker_build().shell}
    others = [url for url in cached if url not in shell and not ARTICLE_URL.fullmatch(url)]
    assert others == []


async def test_the_saved_articles_are_the_newest_200_unread(ui: UI) -> None:
    anonymous = await ui.context.request.get(ui.url("/offline/articles.json"))
    assert anonymous.url.startswith(ui.url("/login"))
    newest, *others = await reader_with_articles(ui, "two-hundred@example.org", 205)
    await api(ui, "POST", "/v1/articles/read", {"ids": [newest]})
    answer = await ui.context.request.get(ui.url("/offline/articles.json"))
    assert (await answer.json())["pages"] == [f"/articles/{id}" for id in others[:200]]


async def test_changes_made_offline_are_sent_in_order_with_their_token_once_online(
    ui: UI,
) -> None:
    first, second = await reader_with_articles(ui, "queue@example.org", 2)
    await controlled(ui)
    csrf = await ui.page.get_attribute('meta[name="csrf-token"]', "content")
    # The worker's POSTs once online that did not fail (a try that raced the switch may).
    sent_online: list[Request] = []
    online = False

    def worker_posted(request: Request) -> None:
        if online and request.method == "POST" and request.service_worker:
            sent_online.append(request)

    ui.context.on("request", worker_posted)
    ui.context.on(
        "requestfailed", lambda request: request in sent_online and sent_online.remove(request)
    )
    await go_offline(ui)
    for path in (f"/articles/{first}/star", f"/articles/{second}/read"):
        assert await ui.page.evaluate(POST_AS_HTMX, [path, csrf]) == 204
    pending = ui.page.locator("#offline-status")
    await expect(pending).to_have_text("2 changes made offline are waiting to be sent.")
    online = True
    await ui.context.set_offline(False)
    await ui.page.evaluate(ONLINE_EVENT)
    await expect(pending).not_to_have_text(re.compile("waiting"))
    assert [(request.url, request.headers.get("x-csrf-token")) for request in sent_online] == [
        (ui.url(f"/articles/{first}/star"), csrf),
        (ui.url(f"/articles/{second}/read"), csrf),
    ]


async def test_logging_out_offline_forgets_the_saved_pages_and_queued_changes(ui: UI) -> None:
    (article,) = await saved_while_online(ui, "leaves-offline@example.org", 1)
    csrf = await ui.page.get_attribute('meta[name="csrf-token"]', "content")
    await go_offline(ui)
    assert await ui.page.evaluate(POST_AS_HTMX, [f"/articles/{article}/star", csrf]) == 204
    await expect(ui.page.locator("#offline-status")).to_be_visible()
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Log out").click()
    assert await ui.page.title() == "Offline · Alt"
    assert await ui.page.evaluate(QUEUED) == 0
    assert await ui.page.evaluate(SAVED_PAGES) is None


async def test_the_offline_page_lists_the_saved_articles_and_passes_axe(ui: UI) -> None:
    await saved_while_online(ui, "offline-page@example.org", 3)
    await ui.goto(OFFLINE_PAGE)
    assert await ui.page.get_by_role("heading", name="You are offline").is_visible()
    await expect(ui.page.locator("#offline-articles a")).to_have_text(
        ["Story 1", "Story 2", "Story 3"], ignore_case=False
    )
    assert await ui.axe() == []
    await ui.screenshots("pwa-offline")


async def test_the_offline_page_in_japanese(ui: UI) -> None:
    answer = await ui.context.request.get(ui.url(OFFLINE_PAGE), headers={"Accept-Language": "ja"})
    assert "オフラインです" in await answer.text()


async def saved_while_online(ui: UI, email: str, count: int) -> list[int]:
    """A reader whose `count` unread articles the worker has saved for offline reading."""
    article_ids = await reader_with_articles(ui, email, count)
    await controlled(ui)
    await saved_pages(ui, count)
    return article_ids


async def saved_pages(ui: UI, count: int) -> list[str]:
    """The saved article pages, once there are `count` of them (the worker's refresh is done)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        pages: list[str] = await ui.page.evaluate(SAVED_PAGES) or []
        if len(pages) == count:
            return pages
        assert asyncio.get_running_loop().time() < deadline, pages
        await ui.page.wait_for_timeout(POLL_MS)


async def open_saved(ui: UI, article: int) -> None:
    """Opens an article page offline. Its script marks it read as it loads, which may start a
    form navigation that the worker answers 204 (the page stays, but its load event is cut
    short): so the page's heading is waited for, not its load."""
    await ui.page.goto(ui.url(f"/articles/{article}"), wait_until="commit")
    await expect(ui.page.locator("h1")).to_be_visible()


async def unread_ids(ui: UI) -> list[int]:
    return [item["id"] for item in (await api(ui, "GET", "/v1/articles"))["items"]]


async def test_saving_articles_for_offline_reading_leaves_them_unread(ui: UI) -> None:
    article_ids = await saved_while_online(ui, "saved-unread@example.org", 3)
    assert sorted(await saved_pages(ui, 3)) == sorted(f"/articles/{id}" for id in article_ids)
    assert await unread_ids(ui) == article_ids


async def test_offline_a_saved_article_opens_and_the_offline_page_lists_it(ui: UI) -> None:
    newest, *_ = await saved_while_online(ui, "reads-offline@example.org", 2)
    title = (await api(ui, "GET", f"/v1/articles/{newest}"))["title"]
    await go_offline(ui)
    await open_saved(ui, newest)
    assert await ui.page.get_by_role("heading", name=title, exact=True).is_visible()
    assert await ui.page.get_by_role("region", name="Summary").is_visible()
    await ui.goto("/")
    assert await ui.page.title() == "Offline · Alt"
    saved = ui.page.locator("#offline-articles a")
    await expect(saved).to_have_count(2)
    assert title in await saved.all_text_contents()
    # Opening it offline is reading it: the mark waits in the queue, then reaches the server.
    await expect(ui.page.locator("#offline-status")).to_have_text(
        "1 change made offline is waiting to be sent."
    )
    await ui.context.set_offline(False)
    await ui.page.evaluate(ONLINE_EVENT)
    await expect(ui.page.locator("#offline-status")).to_be_hidden()
    assert newest not in await unread_ids(ui)


async def test_stars_made_offline_are_applied_in_order_once_online(ui: UI) -> None:
    first, second = await saved_while_online(ui, "stars-offline@example.org", 2)
    csrf = await ui.page.get_attribute('meta[name="csrf-token"]', "content")
    await go_offline(ui)
    await open_saved(ui, first)
    await ui.page.get_by_role("button", name="Star").click()
    pending = ui.page.locator("#offline-status")
    # The page's read mark (opened offline), then the star.
    await expect(pending).to_have_text("2 changes made offline are waiting to be sent.")
    for path in (f"/articles/{first}/unstar", f"/articles/{second}/star"):
        assert await ui.page.evaluate(POST_AS_HTMX, [path, csrf]) == 204
    await expect(pending).to_have_text("4 changes made offline are waiting to be sent.")
    await ui.context.set_offline(False)
    await ui.page.evaluate(ONLINE_EVENT)
    await expect(pending).to_be_hidden()
    # Sent in order: the first is unstarred again (the other order would leave it starred).
    assert (await api(ui, "GET", f"/v1/articles/{first}"))["starred"] is False
    assert (await api(ui, "GET", f"/v1/articles/{second}"))["starred"] is True
    assert (await api(ui, "GET", f"/v1/articles/{first}"))["read"] is True


async def test_logging_out_deletes_the_saved_article_pages(ui: UI) -> None:
    await saved_while_online(ui, "leaves-saved@example.org", 2)
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Log out").click()
    assert await ui.page.evaluate(SAVED_PAGES) is None
    assert await ui.page.evaluate(CACHED_URLS) == [ui.url(url) for url in worker_build().shell]
