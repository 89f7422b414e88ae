"""The pre-processor's client of news-creator's `POST /api/v1/summarize`.

It turns every way a call can go wrong into one of four kinds, which the summary loop acts on:
`unavailable` (news-creator or its engine is down, overloaded or refusing us: the article
waits, its attempts are not used up), `timeout` and `failed` (this attempt failed: retry with
backoff, at most ALT_SUMMARY_MAX_ATTEMPTS in all) and `rejected` (this text can never be
summarised: give up at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

from alt.platform.retry_after import parse_retry_after
from alt.platform.service_client import ServiceClient

Kind = Literal["unavailable", "timeout", "failed", "rejected"]
SERVICE = "news-creator"
PATH = "/api/v1/summarize"


class SummaryError(Exception):
    def __init__(self, kind: Kind, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message[:500]
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Summary:
    summary: str
    model: str
    engine: str
    score: int | None
    grounded: bool
    extractive: bool
    language: str | None
    prompt_tokens: int
    completion_tokens: int
    duration_ms: int
    cached: bool


class NewsCreatorClient:
    def __init__(
        self, services: ServiceClient, timeout_s: float, retry_after_cap_s: float = 300.0
    ) -> None:
        self.services = services
        self.timeout_s = timeout_s
        self.retry_after_cap_s = retry_after_cap_s

    async def summarize(
        self, article_id: int, content: str, language: str | None = None, title: str | None = None
    ) -> Summary:
        body: dict[str, Any] = {"article_id": article_id, "content": content}
        if language:
            body["language"] = language
        if title:
            body["title"] = title[:1000]
        try:
            response = await self.services.post(SERVICE, PATH, json=body, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            raise SummaryError("timeout", f"news-creator: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise SummaryError(
                "unavailable", f"news-creator unreachable: {type(exc).__name__}"
            ) from None
        if response.status_code == 200:
            return _parse(response)
        wait = parse_retry_after(response.headers.get("retry-after"), self.retry_after_cap_s)
        message = _message(response)
        status = response.status_code
        if status in (401, 403, 404, 429, 502, 503) and _code(response) != "engine_failed":
            raise SummaryError("unavailable", message, wait)
        if status == 504:
            raise SummaryError("timeout", message, wait)
        if status == 422 and _code(response) == "not_summarizable":
            raise SummaryError("rejected", message)
        raise SummaryError("failed", message, wait)


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"news-creator: HTTP {response.status_code}"
    if isinstance(body, dict):
        return (
            f"news-creator: HTTP {response.status_code} {body.get('code', '')}: "
            f"{body.get('message', '')}"
        )
    return f"news-creator: HTTP {response.status_code}"


def _parse(response: httpx.Response) -> Summary:
    try:
        data = response.json()
        return Summary(
            summary=str(data["summary"]),
            model=str(data["model"]),
            engine=str(data["engine"]),
            score=data.get("score"),
            grounded=bool(data["grounded"]),
            extractive=bool(data.get("extractive", False)),
            language=data.get("language"),
            prompt_tokens=int(data.get("prompt_tokens") or 0),
            completion_tokens=int(data.get("completion_tokens") or 0),
            duration_ms=int(data.get("duration_ms") or 0),
            cached=bool(data.get("cached")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SummaryError("failed", f"news-creator: unreadable answer ({exc})") from None
