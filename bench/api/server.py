"""The baseline of the API benchmark: the classic OFFSET query of the unread list, served exactly
as alt-backend serves its own list, so that only the SQL differs.

It is alt-backend's app (`alt.backend.service.parts`: the same middleware, service-token and
user-token checks, rate limits and deadlines, pool and autocommit connection, row-to-item code
and response model) with one route, `GET /bench/offset/articles?page=N`, in place of the
service's routes, run by uvicorn with the same number of worker processes as `alt serve`.
Settings come from the environment, as for `alt serve alt-backend`.

    python -m bench.api.server --port P --workers N
"""

from __future__ import annotations

import argparse
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Query
from starlette.types import ASGIApp

from alt.backend.articles import item_out
from alt.backend.schemas import ArticlePage
from alt.backend.service import parts
from alt.backend.web import CurrentUser, Db, PrivateRoute
from alt.config import load_settings
from alt.feeds.excerpt import EXCERPT_SOURCE_CHARS
from alt.platform.db import autocommit
from alt.platform.http_app import create_app
from alt.platform.logging import configure_logging
from alt.services import SERVICES

PAGE = 20
PATH = "/bench/offset/articles"

# The unread page as an OFFSET query: the same columns as alt-backend's list, the same order.
OFFSET_PAGE = f"""
SELECT a.id, a.title, a.url, a.author, a.published_at, a.excerpt,
       CASE WHEN a.excerpt IS NULL THEN left(a.content_html, {EXCERPT_SOURCE_CHARS}) END
         AS content_head,
       f.id AS feed_id, coalesce(s.title, nullif(f.title, ''), f.url) AS feed_title,
       false AS read,
       EXISTS (SELECT 1 FROM favorites fv
                WHERE fv.user_id = %(user_id)s AND fv.article_id = a.id) AS starred
  FROM subscriptions s
  JOIN articles a ON a.feed_id = s.feed_id
  JOIN feeds f ON f.id = a.feed_id
 WHERE s.user_id = %(user_id)s
   AND NOT EXISTS (SELECT 1 FROM read_states r
                    WHERE r.user_id = %(user_id)s AND r.article_id = a.id)
 ORDER BY a.published_at DESC, a.id DESC
 LIMIT %(limit)s OFFSET %(offset)s
"""  # noqa: S608 (a constant)


def offset_router() -> APIRouter:
    r = APIRouter(route_class=PrivateRoute)

    @r.get(PATH, response_model=ArticlePage)
    async def offset_page(
        user: CurrentUser, db: Db, page: Annotated[int, Query(ge=0, le=10_000)] = 0
    ) -> ArticlePage:
        params: dict[str, Any] = {"user_id": user.id, "limit": PAGE + 1, "offset": page * PAGE}
        async with autocommit(db) as conn:
            rows = await (await conn.execute(OFFSET_PAGE, params)).fetchall()
        more = len(rows) > PAGE
        return ArticlePage(
            items=[item_out(row) for row in rows[:PAGE]],
            next_cursor=str(page + 1) if more else None,
        )

    return r


def offset_app() -> ASGIApp:
    """alt-backend's app with the OFFSET route instead of its own (a uvicorn factory)."""
    settings = load_settings()
    spec = SERVICES["alt-backend"]
    configure_logging(spec.name, settings.log_level)
    backend = parts(settings)
    backend.routers = [offset_router()]
    return create_app(spec, settings, backend)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bench.api.server:offset_app",
        factory=True,
        workers=args.workers,
        host="127.0.0.1",
        port=args.port,
        proxy_headers=False,
        server_header=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
