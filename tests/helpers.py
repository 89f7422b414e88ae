"""Helpers for tests that run services for real on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import uvicorn
from starlette.types import ASGIApp

from alt.config import Settings, load_settings
from alt.platform.http_app import create_app
from alt.services import SERVICES
from tests.support.ports import free_port as free_port  # the tests import it from here
from tests.support.ports import free_ports
from tests.support.waiting import until

SERVE_WITHIN_S = 30.0

URL_ENV = {
    "auth-service": "AUTH_SERVICE_URL",
    "alt-backend": "ALT_BACKEND_URL",
    "alt-frontend": "ALT_FRONTEND_URL",
    "pre-processor": "PRE_PROCESSOR_URL",
    "news-creator": "NEWS_CREATOR_URL",
    "tag-generator": "TAG_GENERATOR_URL",
    "search-indexer": "SEARCH_INDEXER_URL",
    "pre-processor-sidecar": "PRE_PROCESSOR_SIDECAR_URL",
    "auth-token-manager": "AUTH_TOKEN_MANAGER_URL",
}


def loopback_urls() -> dict[str, str]:
    """Every service URL setting on a free loopback port."""
    ports = free_ports(len(SERVICES))
    return {
        URL_ENV[name]: f"http://127.0.0.1:{port}"
        for name, port in zip(SERVICES, ports, strict=True)
    }


def with_overrides(settings: Settings, **overrides: object) -> Settings:
    """`settings` again, from the environment, with `overrides` (see `load_settings`)."""
    values: dict[str, object] = {
        "DATABASE_URL": str(settings.database_url),
        "AUTH_DATABASE_URL": str(settings.auth_database_url),
        "ALT_SERVICE_KEYS_FILE": str(settings.service_keys_file),
        "ALT_DATA_DIR": str(settings.data_dir),
        "ALT_SHUTDOWN_GRACE": "2",
    }
    values.update({URL_ENV[name]: settings.service_url(name) for name in SERVICES})
    values.update(overrides)
    return load_settings(**values)


@contextlib.asynccontextmanager
async def running(settings: Settings, *names: str) -> AsyncIterator[None]:
    """Serve the named services with uvicorn on their configured loopback ports."""
    apps = {}
    for name in names:
        spec = SERVICES[name]
        port = settings.service_port(name)
        assert port not in apps, f"{name} would share port {port} with another service"
        apps[port] = create_app(
            spec, settings, importlib.import_module(spec.module).parts(settings)
        )
    async with serving(apps):
        yield


@contextlib.asynccontextmanager
async def serving(apps: dict[int, ASGIApp]) -> AsyncIterator[None]:
    """Serve each ASGI app with uvicorn on its loopback port until the block ends."""
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_config=None,
                lifespan="on",
                proxy_headers=False,
            )
        )
        for port, app in apps.items()
    ]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        for port, server, task in zip(apps, servers, tasks, strict=True):
            started = functools.partial(_has_started, server, task)
            await until(started, SERVE_WITHIN_S, f"uvicorn serving on port {port}")
        yield
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


async def _has_started(server: uvicorn.Server, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # raises why it could not start
    return server.started


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("name"):
            self.fields.setdefault(values["name"] or "", values.get("value") or "")


def form_values(html: str) -> dict[str, str]:
    """The name and value of every input of a page (the first of each name)."""
    parser = _Inputs()
    parser.feed(html)
    return parser.fields


def inline_scripts(html: str) -> list[str]:
    """The page's script elements that are not a `src` of our own `/static/` files."""
    return [
        tag
        for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I)
        if not re.fullmatch(r'<script src="/static/[^"<>]+"( defer)?>', tag)
    ]
