"""Full-text extraction against article pages served on loopback."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from alt.config import Settings
from alt.platform.db import Pool
from alt.platform.egress import EgressClient, FetchLimits
from alt.preprocessor.extraction_loop import ArticleExtractor
from tests.helpers import free_port, serving
from tests.preprocessor.conftest import subscribe

CORPUS = Path(__file__).parents[1] / "feeds" / "corpus"
STORY = " ".join(
    f"Paragraph {n}: the harbour authority counted 1{n}4 ships this spring, and the pilots "
    f"said the new channel cut waiting times by a third."
    for n in range(12)
)
ARTICLE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Harbour traffic grows</title>"
    "<meta name=author content='Ada Pilot'><meta property='og:image' "
    "content='https://img.example/harbour.jpg'></head><body><nav>Home | News | About</nav>"
    "<article><h1>Harbour traffic grows</h1>"
    + "".join(f"<p>{sentence}.</p>" for sentence in STORY.split(". "))
    + "<script>alert('x')</script></article><footer>© Port News</footer></body></html>"
)


async def _page(request: Request) -> Response:
    name = request.path_params["name"]
    if name == "story":
        return HTMLResponse(ARTICLE)
    if name == "missing":
        return HTMLResponse("<html><body><h1>Page not found</h1><p>Sorry.</p></body></html>")
    if name == "malicious":
        return HTMLResponse((CORPUS / "article-page-malicious.html").read_bytes())
    if name == "injection":
        return HTMLResponse((CORPUS / "prompt-injection-article.html").read_bytes())
    if name == "pdf":
        return Response(b"%PDF-1.4", media_type="application/pdf")
    return Response(status_code=503)


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    port = free_port()
    async with serving({port: Starlette(routes=[Route("/a/{name}", _page)])}):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def extractor(pool: Pool, settings: Settings, origin: str) -> AsyncIterator[ArticleExtractor]:
    port = int(origin.rsplit(":", 1)[1])
    limits = FetchLimits(allowed_ports=(port,), allow_private_hosts=(f"127.0.0.1:{port}",))
    async with EgressClient(settings, limits) as pages:
        yield ArticleExtractor(pool, pages)


def _article(app_url: str, url: str) -> int:
    (feed_id,) = subscribe(app_url, [f"https://news.example/{url[-8:]}.xml"])
    with psycopg.connect(app_url) as conn:
        row = conn.execute(
            "INSERT INTO articles (feed_id, entry_hash, url, title, content_html, published_at)"
            " VALUES (%s, %s, %s, 'From the feed', '<p>Feed summary</p>', now()) RETURNING id",
            (feed_id, hashlib.sha256(url.encode()).digest(), url),
        ).fetchone()
        assert row is not None
        conn.execute("INSERT INTO article_contents (article_id) VALUES (%s)", (row[0],))
    return int(row[0])


def _content(app_url: str, article_id: int) -> dict[str, object]:
    with psycopg.connect(app_url, row_factory=psycopg.rows.dict_row) as conn:
        row = conn.execute(
            "SELECT * FROM article_contents c JOIN articles a ON a.id = c.article_id"
            " WHERE c.article_id = %s",
            (article_id,),
        ).fetchone()
    assert row is not None
    return row


async def test_an_article_page_is_extracted_with_its_metadata(
    extractor: ArticleExtractor, origin: str, app_url: str
) -> None:
    article_id = _article(app_url, f"{origin}/a/story")
    assert await extractor.run_once() == 1
    row = _content(app_url, article_id)
    assert row["status"] == "extracted"
    assert "1104 ships" in str(row["text"])
    assert "Home | News" not in str(row["text"])
    assert "<script" not in str(row["html"])
    meta = row["metadata"]
    assert isinstance(meta, dict)
    assert meta["title"] == "Harbour traffic grows"
    assert meta["author"] == "Ada Pilot"
    assert meta["image"] == "https://img.example/harbour.jpg"
    assert meta["language"] == "en"
    assert await extractor.run_once() == 0


@pytest.mark.parametrize(("name", "status"), [("missing", "skipped"), ("pdf", "skipped")])
async def test_pages_without_an_article_keep_the_feed_content(
    extractor: ArticleExtractor, origin: str, app_url: str, name: str, status: str
) -> None:
    article_id = _article(app_url, f"{origin}/a/{name}")
    await extractor.run_once()
    row = _content(app_url, article_id)
    assert row["status"] == status
    assert row["error"]
    assert row["content_html"] == "<p>Feed summary</p>"


async def test_a_transient_failure_is_retried_later(
    extractor: ArticleExtractor, origin: str, app_url: str
) -> None:
    article_id = _article(app_url, f"{origin}/a/unavailable")
    await extractor.run_once()
    row = _content(app_url, article_id)
    assert row["status"] == "pending"
    assert row["attempts"] == 1
    assert "503" in str(row["error"])
    assert await extractor.run_once() == 0  # not due yet
    for attempt in (2, 3):
        with psycopg.connect(app_url) as conn:
            conn.execute("UPDATE article_contents SET next_attempt_at = now()")
        await extractor.run_once()
        assert _content(app_url, article_id)["attempts"] == attempt
    assert _content(app_url, article_id)["status"] == "failed"


# INC-10: extracted text of a hostile page is sanitised.
async def test_a_hostile_page_is_sanitised(
    extractor: ArticleExtractor, origin: str, app_url: str
) -> None:
    article_id = _article(app_url, f"{origin}/a/malicious")
    await extractor.run_once()
    row = _content(app_url, article_id)
    html = str(row["html"] or "")
    for forbidden in (
        "<script",
        "onerror",
        "javascript:",
        "<iframe",
        "<form",
        "<base",
        "http-equiv",
        "<template",
        "<svg",
    ):
        assert forbidden not in html.lower(), forbidden


async def test_hidden_text_never_reaches_the_stored_text(
    extractor: ArticleExtractor, origin: str, app_url: str
) -> None:
    article_id = _article(app_url, f"{origin}/a/injection")
    await extractor.run_once()
    row = _content(app_url, article_id)
    assert row["status"] == "extracted"
    text = str(row["text"])
    assert "tide" in text.lower()
    assert "PWNED-PI-02" not in text  # display:none
    assert "PWNED-PI-04" not in text  # an HTML comment
    assert "\U000e0041" not in text
    assert "\u200b" not in text
