"""Request and response bodies of alt-backend's subscription, category and OPML routes.

Requests are strict (unknown fields are refused, so a typo is not silently ignored); names and
titles are cleaned the way feed titles are (controls stripped, whitespace collapsed) and then
checked for length, so what is stored is what a person sees.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from alt.backend.web import PG_BIGINT_MAX
from alt.feeds.sanitize import clean_text

MAX_URL_CHARS = 2048
MAX_TITLE = 1000
MAX_CATEGORY_NAME = 200


def _clean(limit: int, what: str) -> AfterValidator:
    def check(value: str) -> str:
        cleaned = clean_text(value)
        if not cleaned:
            raise ValueError(f"the {what} is empty")
        if len(cleaned) > limit:
            raise ValueError(f"the {what} is longer than {limit} characters")
        return cleaned

    return AfterValidator(check)


Title = Annotated[str, Field(max_length=4 * MAX_TITLE), _clean(MAX_TITLE, "title")]
CategoryName = Annotated[
    str, Field(max_length=4 * MAX_CATEGORY_NAME), _clean(MAX_CATEGORY_NAME, "category name")
]
CategoryRef = Annotated[int, Field(ge=1, le=PG_BIGINT_MAX)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubscribeRequest(Strict):
    url: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_URL_CHARS,
            description="a feed URL, or a web page that names its feed",
        ),
    ]
    category_id: CategoryRef | None = None
    title: Title | None = Field(default=None, description="your own name for the feed")


class SubscriptionChange(Strict):
    """Only the fields sent change; `null` resets (the feed's own title; no category)."""

    title: Title | None = None
    category_id: CategoryRef | None = None


class CategoryRequest(Strict):
    name: CategoryName


class CategoryOut(BaseModel):
    id: int
    name: str


class FeedOut(BaseModel):
    id: int
    url: str
    title: str
    site_url: str | None
    status: str
    last_checked_at: datetime | None
    last_success_at: datetime | None
    error_count: int
    last_error: str | None


class SubscriptionOut(BaseModel):
    id: int
    title: str = Field(description="what to show: your title, else the feed's, else its URL")
    custom_title: str | None
    category: CategoryOut | None
    feed: FeedOut
    unread_count: int
    created_at: datetime


class ArticleBrief(BaseModel):
    id: int
    title: str
    url: str | None
    published_at: datetime


class SubscribedOut(SubscriptionOut):
    articles: list[ArticleBrief] = Field(description="the feed's newest articles (up to 20)")


class SubscriptionPage(BaseModel):
    subscriptions: list[SubscriptionOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null at the end")


class CategoryWithCounts(CategoryOut):
    subscription_count: int
    unread_count: int
    created_at: datetime


class CategoryList(BaseModel):
    categories: list[CategoryWithCounts]


class RefreshOut(BaseModel):
    subscription_id: int
    feed_id: int
    next_check_at: datetime


class ImportedFeed(BaseModel):
    subscription_id: int
    feed_id: int
    url: str
    title: str
    category: str | None


class ImportSkipped(BaseModel):
    url: str
    title: str
    reason: str


class ImportFailed(BaseModel):
    url: str
    title: str
    reason: str


class ImportReport(BaseModel):
    added: list[ImportedFeed]
    skipped: list[ImportSkipped]
    failed: list[ImportFailed]
    warnings: list[str]
