"""The request and response bodies of every alt-backend route: what goes over the wire.

Requests are strict (unknown fields are refused, so a typo is not silently ignored); names and
titles are cleaned the way feed titles are (controls stripped, whitespace collapsed) and then
checked for length, so what is stored is what a person sees. (What the database gives back is
typed in `alt.backend.storage`.)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from alt.backend.web import PG_BIGINT_MAX
from alt.feeds.sanitize import clean_text

MAX_URL_CHARS = 2048
MAX_TITLE = 1000
MAX_CATEGORY_NAME = 200
MAX_IDS = 1000


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
Ref = Annotated[int, Field(ge=1, le=PG_BIGINT_MAX)]
"""The id of an object in the database."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- subscriptions, categories, OPML --------------------------------------------------------


class SubscribeRequest(Strict):
    url: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_URL_CHARS,
            description="a feed URL, or a web page that names its feed",
        ),
    ]
    category_id: Ref | None = None
    title: Title | None = Field(default=None, description="your own name for the feed")


class DiscoverRequest(Strict):
    url: Annotated[
        str,
        Field(min_length=1, max_length=MAX_URL_CHARS, description="a feed URL or a web page"),
    ]


class FeedChoice(BaseModel):
    url: str
    title: str
    subscription_id: int | None = Field(description="yours, when you already read this feed")


class FeedChoices(BaseModel):
    feeds: list[FeedChoice] = Field(description="the feed itself, or those the page announces")


class SubscriptionChange(Strict):
    """Only the fields sent change; `null` resets (the feed's own title; no category)."""

    title: Title | None = None
    category_id: Ref | None = None


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
    last_warnings: str | None = Field(
        description="what the last successful fetch had to repair or drop (bad characters, "
        "refused links), or null"
    )
    next_check_at: datetime = Field(description="when the fetcher checks the feed next")


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


# --- articles, read state, counts, stats ----------------------------------------------------


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


class StatsEvent(Stats):
    """An event of the stats stream: the stats, and the unread counts when they changed."""

    counts: UnreadCounts | None = Field(
        default=None,
        description="as /v1/unread-counts; in the first event of a stream, then only when they"
        " changed since the stream's last event",
    )


SummaryMark = Literal["grounded", "extractive", "none"]


class SummaryCount(BaseModel):
    engine: str
    mark: SummaryMark = Field(
        description="grounded: written by a model and checked against the article;"
        " extractive: sentences of the article; none: written, not checked"
    )
    summaries: int


class HistoryDay(BaseModel):
    day: date = Field(description="a UTC day")
    articles: int = Field(description="articles of your feeds first fetched that day")
    reads: int = Field(description="articles you marked read that day (and still have read)")
    errors: int = Field(description="failed fetches of your feeds that day")
    summaries: list[SummaryCount] = Field(
        description="summaries of your feeds' articles made that day, by engine and mark"
    )


class History(BaseModel):
    days: list[HistoryDay] = Field(description="every day of the range, oldest first")
