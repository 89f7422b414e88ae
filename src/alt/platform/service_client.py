"""Typed calls to other services: every request carries a service token for the callee and the
current request id, and never goes through a proxy taken from the environment."""

from __future__ import annotations

from typing import Any

import httpx
import structlog

from alt.config import Settings
from alt.platform.service_tokens import HEADER, ServiceTokens

REQUEST_ID_HEADER = "X-Request-ID"


class ServiceClient:
    def __init__(self, settings: Settings, tokens: ServiceTokens, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._tokens = tokens
        # Internal calls stay inside the deployment: no environment proxy, no redirects.
        self._http = httpx.AsyncClient(timeout=timeout_s, trust_env=False, follow_redirects=False)

    def _headers(self, callee: str, given: dict[str, str] | None) -> dict[str, str]:
        headers = dict(given or {})
        headers[HEADER] = self._tokens.issue(callee)
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        return headers

    async def request(self, callee: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = self._headers(callee, kwargs.pop("headers", None))
        url = self._settings.service_url(callee) + path
        return await self._http.request(method, url, headers=headers, **kwargs)

    async def open_stream(
        self, callee: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """A response whose body is read as it comes; the caller must `aclose()` it."""
        headers = self._headers(callee, kwargs.pop("headers", None))
        url = self._settings.service_url(callee) + path
        request = self._http.build_request(method, url, headers=headers, **kwargs)
        return await self._http.send(request, stream=True)

    async def get(self, callee: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request(callee, "GET", path, **kwargs)

    async def post(self, callee: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request(callee, "POST", path, **kwargs)

    async def aclose(self) -> None:
        await self._http.aclose()
