"""Request and response bodies of alt-backend's article, read-state, count and stats routes.

Requests are strict like the others (`alt.backend.models.Strict`): an unknown field is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from alt.backend.models import Strict
from alt.backend.web import PG_BIGINT_MAX

MAX_IDS = 1000

Ref = Annotated[int, Field(ge=1, le=PG_BIGINT_MAX)]


class ArticleFeed(BaseModel):
    id: int
    title: str = Field(description="your title for the feed, else its own, else its URL")


class ArticleItem(BaseModel):
    id: int
    feed: ArticleFeed
    title: str
    url: str | None
    author: str | None
    published_at: datetime
    read: bool
    starred: bool
    excerpt: str = Field(description="the start of the feed's content as plain text")


class ArticlePage(BaseModel):
    items: list[ArticleItem]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )


class FullText(BaseModel):
    status: Literal["pending", "extracted", "skipped", "failed"]
    html: str | None = Field(description="sanitised HTML extracted from the article's page")
    text: str | None
    metadata: dict[str, Any]
    extracted_at: datetime | None


class SummaryOut(BaseModel):
    text: str
    language: str | None
    score: int | None = Field(description="the judge's score, 0-30; null when not judged")
    engine: str
    model: str | None
    grounded: bool | None = Field(description="null when grounding was not checked")
    extractive: bool = Field(description="sentences taken from the article, not written")
    created_at: datetime


class ArticleDetail(BaseModel):
    id: int
    feed: ArticleFeed
    title: str
    url: str | None
    author: str | None
    published_at: datetime
    fetched_at: datetime
    updated_at: datetime
    language: str | None
    content_html: str | None = Field(description="the feed's own content, sanitised")
    full_text: FullText | None = Field(description="null until extraction was queued")
    summary: SummaryOut | None = Field(description="null until a summary is ready")
    enclosures: list[dict[str, Any]]
    read: bool
    starred: bool


class IdsRequest(Strict):
    ids: Annotated[list[Ref], Field(min_length=1, max_length=MAX_IDS)]


class IdsResult(BaseModel):
    done: list[int] = Field(description="the articles now in the asked state")
    not_found: list[int] = Field(description="ids of no article you can see")


class MarkReadRequest(Strict):
    scope: Literal["all", "feed", "category"]
    feed_id: Ref | None = None
    category_id: Ref | None = None
    before: AwareDatetime = Field(
        description="articles published at or before this time become read"
    )

    @model_validator(mode="after")
    def _scope_fits(self) -> MarkReadRequest:
        wanted = {"all": None, "feed": "feed_id", "category": "category_id"}[self.scope]
        for name in ("feed_id", "category_id"):
            given = getattr(self, name) is not None
            if name == wanted and not given:
                raise ValueError(f"scope {self.scope!r} needs {name}")
            if name != wanted and given:
                raise ValueError(f"{name} does not go with scope {self.scope!r}")
        return self


class MarkReadResult(BaseModel):
    marked: int = Field(description="how many articles were unread and are now read")


class FeedCount(BaseModel):
    feed_id: int
    category_id: int | None
    unread: int


class CategoryCount(BaseModel):
    category_id: int
    unread: int


class UnreadCounts(BaseModel):
    feeds: list[FeedCount]
    categories: list[CategoryCount]
    total: int


class Stats(BaseModel):
    feeds: int
    articles: int
    summarised: int = Field(description="articles with a ready summary")
    unsummarised: int
    unread_today: int = Field(description="unread articles published since midnight UTC")
