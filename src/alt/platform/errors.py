"""One error envelope for every service: `{error, code, message, details}`.

`error` is the HTTP reason phrase, `code` a stable machine-readable name, `message` a sentence a
person understands, `details` structured specifics (for example the fields that failed validation).
Nothing internal (stack traces, SQL, paths, hostnames) ever reaches a response.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from alt.platform.logging import get_logger

log = get_logger(__name__)


class AltError(Exception):
    """An error a handler raises on purpose; it becomes the envelope as it is."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def envelope(status: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {
        "error": HTTPStatus(status).phrase,
        "code": code,
        "message": message,
        "details": details,
    }


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        envelope(status, code, message, details), status_code=status, headers=headers
    )


_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in err["loc"] if part != "body"),
            "problem": err["msg"],
        }
        for err in exc.errors()
    ]


async def _on_alt_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AltError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(
        exc.status_code,
        _CODES.get(exc.status_code, "http_error"),
        message,
        headers=getattr(exc, "headers", None),
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    fields = ", ".join(d["field"] or "request" for d in details)
    return error_response(
        422, "validation_failed", f"The request is not valid: check {fields}.", details
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path)
    return error_response(
        500, "internal_error", "Something went wrong on our side; the request id helps us find it."
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AltError, _on_alt_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)


async def answer_error(request: Request, exc: Exception) -> Response:
    """The app's own handler's answer for `exc` (the envelope), for middleware and route
    classes that catch an error themselves and must still answer as the app would."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            response: Response = await handlers[cls](request, exc)
            return response
    raise exc
