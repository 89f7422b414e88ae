"""Articles: lists by state, feed and category, with keyset pagination, and the detail.

The caller sees the articles of the feeds they subscribe to, nothing else
(`alt.backend.storage.articles`): another user's article is simply not found (404).

Lists are newest first on the unique key (published_at, id); the cursor is that key of the last
item, opaque to clients. Tags, story groups and search come with their own routes; the list is
the place their filters will join.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from alt.backend import storage
from alt.backend.images import Proxy, proxy_images
from alt.backend.schemas import (
    ArticleDetail,
    ArticleFeed,
    ArticleItem,
    ArticlePage,
    FullText,
    Ref,
    SummaryOut,
)
from alt.backend.storage.articles import ArticleState, DetailRow, ItemRow, Key
from alt.backend.web import (
    PG_BIGINT_MAX,
    CurrentUser,
    Db,
    ObjectId,
    PrivateRoute,
    check_scope,
    not_found,
)
from alt.feeds.excerpt import excerpt
from alt.platform.db import autocommit
from alt.platform.errors import AltError

PAGE_DEFAULT = 20
PAGE_MAX = 100
MAX_CURSOR_CHARS = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR_VERSION = "k1"

router = APIRouter(route_class=PrivateRoute, tags=["articles"])


# ---------------------------------------------------------------------------------------------
# Cursor: the (published_at, id) of the last item of a page.
# ---------------------------------------------------------------------------------------------


def encode_cursor(published_at: datetime, article_id: int) -> str:
    micros = (published_at - _EPOCH) // timedelta(microseconds=1)
    raw = f"{_CURSOR_VERSION}:{micros}:{article_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> AltError:
    return AltError(
        422,
        "validation_failed",
        "The cursor is not valid: pass the `next_cursor` of the previous page unchanged.",
        [{"field": "cursor", "problem": "not a cursor this API gave out"}],
    )


def decode_cursor(cursor: str) -> Key:
    try:
        # validate=True: the lenient decoder skips characters outside the alphabet, so a
        # cursor with a character appended could decode as the cursor it was made from.
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
        version, micros_text, id_text = raw.split(":")
        micros, article_id = int(micros_text), int(id_text)
        if version != _CURSOR_VERSION or not 1 <= article_id <= PG_BIGINT_MAX:
            raise ValueError(version)
        return _EPOCH + timedelta(microseconds=micros), article_id
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise _bad_cursor() from None


# ---------------------------------------------------------------------------------------------
# Rows to bodies
# ---------------------------------------------------------------------------------------------


def item_out(row: ItemRow) -> ArticleItem:
    return ArticleItem(
        id=row["id"],
        feed=ArticleFeed(id=row["feed_id"], title=row["feed_title"]),
        title=row["title"],
        url=row["url"],
        author=row["author"],
        published_at=row["published_at"],
        read=row["read"],
        starred=row["starred"],
        # Stored with the entry; rows stored before that have theirs made here.
        excerpt=row["excerpt"] if row["excerpt"] is not None else excerpt(row["content_head"]),
    )


def detail_out(row: DetailRow) -> ArticleDetail:
    full = (
        FullText(
            status=row["full_status"],
            html=row["full_html"],
            text=row["full_text"],
            metadata=row["full_metadata"],
            extracted_at=row["full_extracted_at"],
        )
        if row["full_status"] is not None
        else None
    )
    summary = (
        SummaryOut(
            text=row["summary"],
            language=row["summary_language"],
            score=row["score"],
            engine=row["engine"],
            model=row["model"],
            grounded=row["grounded"],
            extractive=row["extractive"],
            created_at=row["summary_created_at"],
        )
        if row["summary"] is not None
        else None
    )
    return ArticleDetail(
        id=row["id"],
        feed=ArticleFeed(id=row["feed_id"], title=row["feed_title"]),
        title=row["title"],
        url=row["url"],
        author=row["author"],
        published_at=row["published_at"],
        fetched_at=row["fetched_at"],
        updated_at=row["updated_at"],
        language=row["language"],
        content_html=row["content_html"],
        full_text=full,
        summary=summary,
        enclosures=row["enclosures"],
        read=row["read"],
        starred=row["starred"],
    )


def with_proxied_images(article: ArticleDetail, key: bytes) -> ArticleDetail:
    full = article.full_text
    if full is not None:
        full = full.model_copy(update={"html": proxy_images(full.html, key)})
    return article.model_copy(
        update={"content_html": proxy_images(article.content_html, key), "full_text": full}
    )


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


@router.get(
    "/v1/articles",
    response_model=ArticlePage,
    responses={
        404: {"description": "no such feed or category"},
        422: {"description": "a bad state, limit or cursor"},
    },
)
async def list_articles(
    user: CurrentUser,
    db: Db,
    state: ArticleState = ArticleState.unread,
    feed_id: Annotated[Ref | None, Query(description="only this feed")] = None,
    category_id: Annotated[Ref | None, Query(description="only this category")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_CHARS, description="the `next_cursor` of the last page"),
    ] = None,
) -> ArticlePage:
    """Articles of your feeds, newest first: unread (the default), read, starred or all;
    optionally of one feed or one category."""
    after = decode_cursor(cursor) if cursor is not None else None
    async with autocommit(db) as conn:
        await check_scope(conn, user.id, feed_id=feed_id, category_id=category_id)
        page = await storage.articles.page(
            conn,
            user.id,
            state,
            limit=limit,
            after=after,
            feed_id=feed_id,
            category_id=category_id,
        )
    last = page.rows[-1] if page.more else None
    return ArticlePage(
        items=[item_out(row) for row in page.rows],
        next_cursor=encode_cursor(last["published_at"], last["id"]) if last else None,
    )


@router.get(
    "/v1/articles/{id:int}",
    response_model=ArticleDetail,
    responses={404: {"description": "no such article"}},
)
async def get_article(id: ObjectId, user: CurrentUser, db: Db, images: Proxy) -> ArticleDetail:
    """One article: the feed's content, the full text extracted from its page and its
    summary once ready, with your read and starred marks."""
    async with autocommit(db) as conn:
        row = await storage.articles.detail(conn, user.id, id)
    if row is None:
        raise not_found("article")
    return with_proxied_images(detail_out(row), images.key)
