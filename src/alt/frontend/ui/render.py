"""Pages from Jinja2 templates: one environment per UI language, autoescaped, with the gettext
functions of that language and the helpers every template uses."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from babel.core import Locale
from babel.dates import format_datetime, format_timedelta
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alt.frontend.ui.assets import asset_url
from alt.frontend.ui.i18n import DEFAULT_LOCALE, LOCALE_NAMES, negotiate, translations


@cache
def environment(locale: str) -> Environment:
    env = Environment(
        loader=PackageLoader("alt.frontend", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship in the package: no stat of each file per page
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals |= {"asset_url": asset_url, "locale": locale, "locale_names": LOCALE_NAMES}
    # A parsed Locale, not its name: Babel would parse the name again at every date.
    parsed = Locale.parse(locale)
    env.filters["when"] = lambda value: _when(value, parsed)
    env.filters["ago"] = lambda value: _ago(value, parsed)
    return env


def _parse(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _when(value: datetime | str | None, locale: Locale) -> str:
    moment = _parse(value)
    return format_datetime(moment, "medium", locale=locale) if moment else ""


def _ago(value: datetime | str | None, locale: Locale) -> str:
    """`3 hours` style age of a past moment (`in 3 hours` for a future one)."""
    moment = _parse(value)
    if moment is None:
        return ""
    return format_timedelta(
        moment - datetime.now(UTC), add_direction=True, threshold=1.0, locale=locale
    )


def locale_of(request: Request, preferred: str | None = None) -> str:
    return negotiate(preferred, request.headers.get("accept-language"))


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    locale: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """`template` rendered in the request's language (the viewer's when one is in `context`)."""
    values = dict(context or {})
    viewer = values.get("viewer")
    chosen = locale or (viewer.locale if viewer is not None else locale_of(request))
    values.setdefault("viewer", None)
    values.setdefault("notice", None)
    values.setdefault("request", request)
    page = environment(chosen or DEFAULT_LOCALE).get_template(template).render(values)
    return HTMLResponse(page, status_code=status, headers=headers)


def gettext(locale: str, message: str, **values: Any) -> str:
    """A UI string in `locale`, for Python code that builds messages (flash notices, errors)."""
    text = translations(locale).gettext(message)
    return text % values if values else text
