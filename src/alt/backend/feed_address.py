"""The address of a feed a person typed: checked here, fetched in the pre-processor.

alt-backend never fetches from the internet. It checks a URL first (form, scheme, the SSRF
policy's verdict on its host and port) so that a refused URL gets a clear answer without a
round trip, then asks the pre-processor (`POST /v1/feeds/discover`) to fetch it, find the feed
(autodiscovery, common paths), store it and its first entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from alt.feeds.urls import normalise_url, scheme_of
from alt.platform.egress import FetchError, FetchLimits, check_url
from alt.platform.errors import AltError
from alt.platform.http_app import ServiceContext
from alt.platform.logging import get_logger

log = get_logger(__name__)

PRE_PROCESSOR = "pre-processor"
DISCOVER_PATH = "/v1/feeds/discover"
CANDIDATES_PATH = "/v1/feeds/candidates"
# The pre-processor may try the URL and several candidates, each under the feed deadline.
DISCOVER_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Discovered:
    feed_id: int
    url: str
    title: str
    site_url: str | None


class UrlRefused(Exception):
    """A URL that cannot be subscribed to; `code` and `message` go to the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def feed_url(text: str, limits: FetchLimits) -> str:
    """The normalised form of a URL a person typed or a file named (the form feeds are stored
    under), once the egress policy would fetch it. Raises UrlRefused saying why not."""
    text = text.strip()
    if scheme_of(text) is None and not text.startswith(("/", "\\")):
        text = "https://" + text  # "example.org/feed" means what a browser makes of it
    try:
        url = normalise_url(text)
    except ValueError as exc:
        raise UrlRefused("invalid_url", f"That is not a feed address we can use: {exc}.") from None
    try:
        parsed = check_url(url, limits=limits)
    except FetchError as exc:
        code = "blocked_url" if exc.reason == "blocked" else "invalid_url"
        raise UrlRefused(code, f"That address cannot be fetched: {exc.message}.") from None
    # The fetcher's own spelling (no fragment, no trailing dot in the host, IPv4 literals in
    # dotted form), so that one feed has one URL however it was typed.
    try:
        return normalise_url(parsed.url)
    except ValueError as exc:  # pragma: no cover - check_url's form is a normal URL
        raise UrlRefused("invalid_url", f"That is not a feed address we can use: {exc}.") from None


def refused(exc: UrlRefused) -> AltError:
    return AltError(422, exc.code, exc.message, {"field": "url"})


def _unavailable() -> AltError:
    return AltError(
        503,
        "discovery_unavailable",
        "Feeds cannot be checked right now; please try again in a minute.",
        headers={"Retry-After": "60"},
    )


async def _ask(ctx: ServiceContext, path: str, url: str) -> tuple[httpx.Response, Any]:
    try:
        response = await ctx.services.post(
            PRE_PROCESSOR, path, json={"url": url}, timeout=DISCOVER_TIMEOUT_S
        )
    except httpx.HTTPError as exc:
        log.warning("discover_unreachable", error=type(exc).__name__)
        raise _unavailable() from None
    return response, _json(response)


async def candidates(ctx: ServiceContext, url: str) -> list[dict[str, str]]:
    """The feeds at `url`, or those the page at `url` announces, as {url, title}; nothing is
    stored. Raises AltError as `discover` does."""
    response, body = await _ask(ctx, CANDIDATES_PATH, url)
    if response.status_code == 200 and body is not None:
        try:
            return [{"url": str(f["url"]), "title": str(f["title"])} for f in body["feeds"]]
        except (KeyError, TypeError):
            log.error("candidates_bad_answer", status=response.status_code)
            raise _unavailable() from None
    raise _refusal(response, body)


async def discover(ctx: ServiceContext, url: str) -> Discovered:
    """Ask the pre-processor to fetch `url` and store its feed. Raises AltError: 422 with the
    pre-processor's reason (`not_a_feed`, `feed_unreadable`, `fetch_<reason>`), 503 when it
    cannot be asked or does not answer."""
    response, body = await _ask(ctx, DISCOVER_PATH, url)
    if response.status_code == 200 and body is not None:
        try:
            return Discovered(
                int(body["feed_id"]),
                str(body["url"]),
                str(body.get("title") or ""),
                body.get("site_url") if isinstance(body.get("site_url"), str) else None,
            )
        except (KeyError, TypeError, ValueError):
            log.error("discover_bad_answer", status=response.status_code)
            raise _unavailable() from None
    raise _refusal(response, body)


def _refusal(response: httpx.Response, body: dict[str, Any] | None) -> AltError:
    if response.status_code == 422 and body is not None and isinstance(body.get("code"), str):
        # The pre-processor's verdict on this address, said for the person who typed it.
        message = body.get("message") if isinstance(body.get("message"), str) else None
        message = message or "That address is not a feed we can read."
        return AltError(422, body["code"][:100], message[:1000], {"field": "url"})
    log.warning("discover_failed", status=response.status_code)
    return _unavailable()


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
