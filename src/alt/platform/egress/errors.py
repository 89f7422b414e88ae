"""The one error type of the egress client."""

from __future__ import annotations

from typing import Literal

Reason = Literal[
    "blocked",  # the destination is not allowed (SSRF policy); the message says why
    "invalid_url",  # not a URL we can fetch: syntax, length, control characters
    "dns",  # the name did not resolve
    "connect",  # no connection, connection lost, TLS refused, not HTTP
    "timeout",  # connect, idle read or total deadline
    "too_large",  # body, decoded body or response headers over their cap
    "too_many_redirects",
    "bad_encoding",  # Content-Encoding unknown, chained too deep, or corrupt
    "http_status",  # the final answer is not 2xx or 304
    "proxy",  # the egress proxy is unreachable or refused us
]


class FetchError(Exception):
    """A fetch that did not produce a body.

    `message` is safe to show to the user who asked for the URL: it never carries response bytes,
    resolved internal addresses or proxy credentials. `retriable` says whether trying again later
    may help (network trouble, 5xx, 429) or not (policy, malformed URL, 404).
    """

    def __init__(
        self,
        reason: Reason,
        message: str,
        retry_after_s: float | None = None,
        retriable: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message
        self.retry_after_s = retry_after_s
        self.retriable = retriable
        self.status = status

    def __repr__(self) -> str:
        return (
            f"FetchError({self.reason!r}, {self.message!r}, retry_after_s={self.retry_after_s!r},"
            f" retriable={self.retriable!r}, status={self.status!r})"
        )
