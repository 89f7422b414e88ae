"""The route class of the UI's pages: the edge's guarded route (security headers, probe
tripwire) with page-shaped errors.

A page that needs a login sends a browser without one to the login page (htmx requests get an
`HX-Redirect` instead, so that the whole page goes, not a fragment). Errors become an HTML
page that says what went wrong in the user's words and nothing internal: the message of an
`AltError` (written for users), a generic one for anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect

from alt.frontend.pages import login_url
from alt.frontend.ui.render import render
from alt.frontend.ui.viewer import LoginRequired
from alt.platform.errors import AltError
from alt.platform.logging import get_logger

log = get_logger(__name__)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", {"status": status, "message": message}, status=status)


class PageErrors(APIRoute):
    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def answered(request: Request) -> Response:
            try:
                return await handle(request)
            except ClientDisconnect:  # the browser went away mid-request: nobody to answer
                return Response(status_code=400)
            except LoginRequired:
                target = login_url(request.url.path)
                if is_htmx(request):
                    return Response(status_code=401, headers={"HX-Redirect": target})
                return RedirectResponse(target, status_code=303)
            except AltError as exc:
                return error_page(request, exc.status, exc.message)
            except RequestValidationError as exc:  # a page's address or its query is wrong
                if any(error.get("loc", ("",))[0] == "path" for error in exc.errors()):
                    return error_page(request, 404, "Not found.")
                return error_page(request, 422, "Some of the values in the address are wrong.")
            except Exception:
                log.exception("page_failed", path=request.url.path)
                return error_page(request, 500, "Something went wrong. Please try again.")

        return answered


def page_route(guarded: type[APIRoute]) -> type[APIRoute]:
    """The edge's guarded route class around page errors (the guard runs first)."""
    return type("PageRoute", (guarded, PageErrors), {})
