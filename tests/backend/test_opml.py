"""OPML through the edge: import (nested categories, multipart or raw body, 1,000+ outlines,
bad outlines reported without aborting the rest, the hostile corpus file, limits, nothing
fetched inside the request, one NOTIFY) and export (and export -> import round trip)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from xml.sax.saxutils import quoteattr

import httpx
import psycopg
import pytest

from tests.auth.conftest import Browser
from tests.backend.conftest import CORPUS, BackendStack
from tests.support.waiting import until

PRIVATE = "private, no-store"
NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="Top feed" type="rss" xmlUrl="https://top.example.org/feed.xml"/>
    <outline text="News">
      <outline text="World" title="World" type="rss" xmlUrl="https://world.example.org/rss"
               htmlUrl="https://world.example.org/"/>
      <outline text="Local">
        <outline text="City" type="rss" xmlUrl="https://city.example.org/atom.xml"/>
      </outline>
    </outline>
    <outline text="tech">
      <outline text="Dev" type="rss" xmlUrl="https://dev.example.org/feed"/>
    </outline>
    <outline text="Tagged" type="rss" category="/Sports/Football"
             xmlUrl="https://sports.example.org/feed"/>
  </body>
</opml>
"""


def opml(outlines: Sequence[tuple[str | None, str, str]]) -> bytes:
    """An OPML file of (folder, title, xmlUrl) triples; folders in order of appearance."""
    folders: dict[str | None, list[str]] = {}
    for folder, title, url in outlines:
        folders.setdefault(folder, []).append(
            f'<outline type="rss" text={quoteattr(title)} xmlUrl={quoteattr(url)}/>'
        )
    body = []
    for folder, items in folders.items():
        if folder is None:
            body += items
        else:
            body.append(f"<outline text={quoteattr(folder)}>{''.join(items)}</outline>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head><title>t</title>'
        f"</head><body>{''.join(body)}</body></opml>"
    ).encode()


async def upload(browser: Browser, data: bytes, *, csrf: bool = True) -> httpx.Response:
    return await browser.call(
        "POST",
        "/api/v1/opml/import",
        csrf=csrf,
        files={"file": ("subscriptions.opml", data, "text/x-opml")},
    )


async def imported(browser: Browser, data: bytes) -> dict[str, Any]:
    response = await upload(browser, data)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == PRIVATE
    report: dict[str, Any] = response.json()
    return report


def subscriptions_of(stack: BackendStack, user_id: uuid.UUID) -> set[tuple[str, str, str | None]]:
    """(feed URL, displayed title, category) of every subscription of the user."""
    rows = stack.app(
        "SELECT f.url, coalesce(s.title, nullif(f.title, ''), f.url) AS title, c.name"
        " FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
        " LEFT JOIN categories c ON c.id = s.category_id WHERE s.user_id = %s",
        (user_id,),
    )
    return {(r["url"], r["title"], r["name"]) for r in rows}


@asynccontextmanager
async def notifications(stack: BackendStack) -> AsyncIterator[list[str]]:
    """Collects the alt_feeds_due notifications sent while the block runs (and 1 s after)."""
    got: list[str] = []
    async with await psycopg.AsyncConnection.connect(stack.app_db, autocommit=True) as conn:
        await conn.execute("LISTEN alt_feeds_due")
        yield got
        async for notify in conn.notifies(timeout=1.0):
            got.append(notify.channel)


# PAR-15: nested folders become flat categories.
async def test_import_folds_nested_folders_into_categories(stack: BackendStack) -> None:
    browser, user_id = await stack.user("nested@example.org")
    tech = await browser.call("POST", "/api/v1/categories", {"name": "Tech"})
    async with notifications(stack) as notified:
        report = await imported(browser, NESTED)
    assert notified == ["alt_feeds_due"]  # once, however many feeds
    assert report["failed"] == []
    assert report["skipped"] == []
    added = {a["url"]: a for a in report["added"]}
    assert {url: a["category"] for url, a in added.items()} == {
        "https://top.example.org/feed.xml": None,
        "https://world.example.org/rss": "News",
        "https://city.example.org/atom.xml": "News",
        "https://dev.example.org/feed": "Tech",  # the existing folder, whatever the case
        "https://sports.example.org/feed": "Sports",
    }
    assert added["https://world.example.org/rss"]["title"] == "World"
    assert subscriptions_of(stack, user_id) == {
        ("https://top.example.org/feed.xml", "Top feed", None),
        ("https://world.example.org/rss", "World", "News"),
        ("https://city.example.org/atom.xml", "City", "News"),
        ("https://dev.example.org/feed", "Dev", "Tech"),
        ("https://sports.example.org/feed", "Tagged", "Sports"),
    }
    folders = stack.app(
        "SELECT id, name FROM categories WHERE user_id = %s ORDER BY name", (user_id,)
    )
    assert [f["name"] for f in folders] == ["News", "Sports", "Tech"]
    assert [f["id"] for f in folders if f["name"] == "Tech"] == [tech.json()["id"]]
    # New feeds carry nothing from the file but their URL, and are due at once: the fetcher
    # (when one runs) has taken them already, or they wait with next_check_at in the past.
    feeds = stack.app(
        "SELECT title, site_url,"
        " (last_checked_at IS NOT NULL OR next_check_at <= now()) AS due"
        " FROM feeds WHERE url = ANY(%s)",
        (list(added),),
    )
    assert len(feeds) == 5
    assert all(f["due"] for f in feeds)
    assert all(f["title"] == "" and f["site_url"] is None for f in feeds)
    # Listed like any other subscription.
    listed = (await browser.call("GET", "/api/v1/subscriptions")).json()["subscriptions"]
    assert {s["feed"]["url"] for s in listed} == set(added)

    again = await imported(browser, NESTED)
    assert again["added"] == []
    assert sorted(s["url"] for s in again["skipped"]) == sorted(added)
    assert {s["reason"] for s in again["skipped"]} == {"already subscribed"}


async def test_nothing_is_fetched_inside_the_request(stack: BackendStack) -> None:
    browser, _ = await stack.user("nofetch@example.org")
    urls = [stack.feeds.url(f"/slow/s{i}.xml") for i in range(3)]
    report = await imported(browser, opml([(None, f"slow {i}", url) for i, url in enumerate(urls)]))
    assert len(report["added"]) == 3
    # The answer comes before the slow origin has answered: no feed has been checked yet.
    assert checked(stack, urls) == [False] * 3
    # ... and the pre-processor's fetcher, woken by the import's NOTIFY, fetches them after,
    # each once (a fetch inside the request would have been a second one).

    async def all_checked() -> bool:
        return checked(stack, urls) == [True] * 3

    await until(all_checked, 30, "the fetcher checking the imported feeds")
    assert [stack.feeds.seen(f"/slow/s{i}.xml") for i in range(3)] == [1] * 3


def checked(stack: BackendStack, urls: list[str]) -> list[bool]:
    """For each feed, in the order of `urls`: whether the fetcher has checked it."""
    rows = stack.app(
        "SELECT url, last_checked_at IS NOT NULL AS checked FROM feeds WHERE url = ANY(%s)",
        (urls,),
    )
    by_url = {row["url"]: row["checked"] for row in rows}
    return [by_url[url] for url in urls]


@pytest.mark.parametrize("content_type", ["text/x-opml", "application/xml", "text/xml"])
async def test_import_takes_the_raw_body_too(stack: BackendStack, content_type: str) -> None:
    browser, user_id = await stack.user(f"raw-{content_type.replace('/', '-')}@example.org")
    response = await browser.call(
        "POST", "/api/v1/opml/import", content=NESTED, headers={"content-type": content_type}
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["added"]) == 5
    assert len(subscriptions_of(stack, user_id)) == 5


async def test_a_bad_outline_does_not_abort_the_rest(stack: BackendStack) -> None:
    browser, user_id = await stack.user("mixed@example.org")
    long_url = "https://long.example.org/" + "x" * 2100
    data = opml(
        [
            (None, "good one", "https://good1.example.org/feed"),
            (None, "script", "javascript:alert(1)"),
            ("Folder", "metadata", "http://169.254.169.254/latest/meta-data/"),
            ("Folder", "good two", "https://good2.example.org/feed"),
            (None, "too long", long_url),
            (None, "no host", "http:///feed"),
            (None, "bad port", "https://ports.example.org:6379/feed"),
            (None, "again", "https://good1.example.org/feed"),
            (None, "spelled otherwise", "HTTPS://GOOD1.example.org/feed#x"),
            ("Other", "good three", "https://good3.example.org/feed"),
            ("FOLDER", "good four", "https://good4.example.org/feed"),  # the same folder
        ]
    )
    report = await imported(browser, data)
    assert sorted(a["url"] for a in report["added"]) == [
        "https://good1.example.org/feed",
        "https://good2.example.org/feed",
        "https://good3.example.org/feed",
        "https://good4.example.org/feed",
    ]
    failed = {f["title"]: f["reason"] for f in report["failed"]}
    assert set(failed) == {"script", "metadata", "too long", "no host", "bad port"}
    assert "javascript: URLs are not allowed" in failed["script"]
    assert "not a public address" in failed["metadata"]
    assert "2,048" in failed["too long"] or "2048" in failed["too long"]
    assert "port 6379 is not allowed" in failed["bad port"]
    assert {s["title"]: s["reason"] for s in report["skipped"]} == {
        "again": "duplicate: already in this file",
        "spelled otherwise": "duplicate: already in this file",
    }
    assert {(u, c) for u, _, c in subscriptions_of(stack, user_id)} == {
        ("https://good1.example.org/feed", None),
        ("https://good2.example.org/feed", "Folder"),
        ("https://good3.example.org/feed", "Other"),
        ("https://good4.example.org/feed", "Folder"),
    }
    assert stack.app("SELECT count(*) AS n FROM feeds WHERE url LIKE %s", ("%169.254%",)) == [
        {"n": 0}
    ]


async def test_a_thousand_outlines_import_in_one_go(stack: BackendStack) -> None:
    browser, user_id = await stack.user("many@example.org")
    # Where nothing listens: the fetcher running beside the test fails them at once, with no
    # DNS lookups and without holding up the origin's feeds.
    outlines = [
        (f"Folder {i % 40}", f"Feed {i}", f"{stack.dead_base}/many{i}.xml") for i in range(1000)
    ]
    data = opml(outlines)
    assert data.count(b"<outline") == 1040
    async with notifications(stack) as notified:
        report = await imported(browser, data)
    assert notified == ["alt_feeds_due"]
    assert len(report["added"]) == 1000
    assert report["failed"] == []
    assert report["skipped"] == []
    assert len(subscriptions_of(stack, user_id)) == 1000
    assert stack.app("SELECT count(*) AS n FROM categories WHERE user_id = %s", (user_id,)) == [
        {"n": 40}
    ]
    # Past the cap (1,000 feeds a file) the rest is ignored and the answer says so.
    second, second_id = await stack.user("more@example.org")
    bigger = opml([(None, f"Feed {i}", f"{stack.dead_base}/more{i}.xml") for i in range(1100)])
    report = await imported(second, bigger)
    assert len(report["added"]) == 1000
    assert any("100 more were ignored" in w for w in report["warnings"])
    assert len(subscriptions_of(stack, second_id)) == 1000


# SSRF-11, PAR-15: refused entries are listed in the report; 200 levels flattened.
async def test_the_hostile_corpus_file(stack: BackendStack) -> None:
    browser, user_id = await stack.user("hostile@example.org")
    data = (CORPUS / "opml-malicious.opml").read_bytes()
    refused = await upload(browser, data, csrf=False)
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    assert stack.rows_of(user_id)["subscriptions"] == []

    response = await upload(browser, data)
    assert response.status_code == 200, response.text
    report = response.json()
    assert "root:" not in response.text
    assert "aaaaaaaaaa" not in response.text  # &a; never expanded
    assert sorted(a["url"] for a in report["added"]) == [
        "https://feed.example/deep.xml",
        "https://feed.example/dup.xml",
        "https://feed.example/legit.xml",
        "https://feed.example/ok.xml",
        "https://feed.example/t.xml",
    ]
    failed = {f["title"]: f["reason"] for f in report["failed"]}
    assert set(failed) == {
        "metadata",
        "loopback db",
        "file",
        "gopher",
        "decimal ip",
        "mapped v6",
        "in category",
    }
    for title in ("metadata", "loopback db", "decimal ip", "mapped v6", "in category"):
        assert "not a public address" in failed[title], failed[title]
    assert "file: URLs are not allowed" in failed["file"]
    assert "gopher: URLs are not allowed" in failed["gopher"]
    assert [s["title"] for s in report["skipped"]] == ["duplicate 2 (same xmlUrl)"]

    mine = subscriptions_of(stack, user_id)
    assert ("https://feed.example/t.xml", "<img src=x onerror=alert('opml-title')>", None) in mine
    assert ("https://feed.example/deep.xml", "deep", "lvl0") in mine  # 200 levels flattened
    assert [
        r["name"] for r in stack.app("SELECT name FROM categories WHERE user_id = %s", (user_id,))
    ] == ["lvl0"]
    feeds = stack.app(
        "SELECT url, site_url FROM feeds WHERE url LIKE %s", ("https://feed.example/%",)
    )
    assert len(feeds) == 5
    assert all(f["site_url"] is None for f in feeds)  # the javascript: htmlUrl went nowhere
    stored = stack.app("SELECT string_agg(t::text, ' ') AS a FROM feeds t")[0]["a"] + str(
        stack.rows_of(user_id)
    )
    for leaked in ("root:", "javascript:", "169.254", "aaaaaaaaaa", "&xxe;", "/etc/passwd"):
        assert leaked not in stored


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 422, "invalid_opml"),
        (b"just text", 422, "invalid_opml"),
        (b'{"feeds": []}', 422, "invalid_opml"),
        (b"<html><body>hi</body></html>", 422, "invalid_opml"),
        (b"<opml><body>" + b"<!-- pad -->" * 90_000 + b"</body></opml>", 413, "payload_too_large"),
    ],
)
async def test_files_that_cannot_be_imported(
    stack: BackendStack, data: bytes, status: int, code: str
) -> None:
    browser, user_id = await stack.user(f"bad-{uuid.uuid4().hex[:8]}@example.org")
    response = await upload(browser, data)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert stack.rows_of(user_id)["subscriptions"] == []


async def test_a_form_without_the_file_field(stack: BackendStack) -> None:
    browser, _ = await stack.user("nofile@example.org")
    response = await browser.call(
        "POST", "/api/v1/opml/import", files={"upload": ("x.opml", NESTED, "text/x-opml")}
    )
    assert response.status_code == 422
    assert "file" in response.json()["message"]


async def test_export_then_import_gives_the_same_subscriptions(stack: BackendStack) -> None:
    source, source_id = await stack.user("exporter@example.org")
    stranger, _ = await stack.user("stranger@example.org")
    await imported(stranger, opml([(None, "Secret", "https://secret.example.org/feed")]))
    await imported(source, NESTED)
    reading = await source.call("POST", "/api/v1/categories", {"name": "Reading"})
    made = await source.call(
        "POST",
        "/api/v1/subscriptions",
        {
            "url": stack.feeds.url("/feeds/roundtrip.xml"),
            "title": "Mine & yours <b>",
            "category_id": reading.json()["id"],
        },
    )
    assert made.status_code == 201
    plain = await source.call(
        "POST", "/api/v1/subscriptions", {"url": stack.feeds.url("/feeds/roundtrip2.xml")}
    )
    assert plain.status_code == 201

    exported = await source.call("GET", "/api/v1/opml/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/xml; charset=utf-8"
    assert exported.headers["cache-control"] == PRIVATE
    # The edge passes on only some headers (see the report); alt-backend's own answer:
    direct = await stack.direct(source, "GET", "/v1/opml/export")
    assert direct.status_code == 200
    assert direct.headers["content-disposition"] == 'attachment; filename="alt-subscriptions.opml"'
    assert direct.headers["content-type"] == "application/xml; charset=utf-8"
    assert direct.headers["cache-control"] == PRIVATE
    assert direct.content == exported.content
    assert b"secret.example.org" not in exported.content
    assert exported.content.count(b"xmlUrl=") == 7

    target, target_id = await stack.user("importer@example.org")
    report = await imported(target, exported.content)
    assert len(report["added"]) == 7
    assert report["failed"] == []
    assert report["skipped"] == []
    assert subscriptions_of(stack, target_id) == subscriptions_of(stack, source_id)
    assert ("https://top.example.org/feed.xml", "Top feed", None) in subscriptions_of(
        stack, target_id
    )
    assert (
        stack.feeds.url("/feeds/roundtrip.xml"),
        "Mine & yours <b>",
        "Reading",
    ) in subscriptions_of(stack, target_id)
    assert (stack.feeds.url("/feeds/roundtrip2.xml"), "Feed roundtrip2", None) in subscriptions_of(
        stack, target_id
    )
    again = await target.call("GET", "/api/v1/opml/export")
    assert again.content == exported.content


async def test_two_imports_at_once(stack: BackendStack) -> None:
    """The same feeds and folders in opposite orders, uploaded at the same moment (a
    double-click, two tabs): each feed and folder once, no deadlock, no error."""
    browser, user_id = await stack.user("twice@example.org")
    outlines = [(f"F{i % 7}", f"Feed {i}", f"{stack.dead_base}/twice{i}.xml") for i in range(300)]
    first, second = await asyncio.gather(
        upload(browser, opml(outlines)), upload(browser, opml(outlines[::-1]))
    )
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    reports = [first.json(), second.json()]
    assert sorted(len(r["added"]) for r in reports) == [0, 300]
    assert sorted(len(r["skipped"]) for r in reports) == [0, 300]
    assert len(subscriptions_of(stack, user_id)) == 300
    folders = stack.app("SELECT name FROM categories WHERE user_id = %s ORDER BY name", (user_id,))
    assert [f["name"] for f in folders] == [f"F{i}" for i in range(7)]
