"""The stats page: live counters and plots of the caller's reading and feeds.

The counters carry `data-stat` / `data-count-total`, which js/live.js keeps up to date from the
stats stream; the plots are SVG drawn here (`alt.frontend.ui.charts`) from alt-backend's history,
each with its numbers in a table for whoever cannot see it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from babel.dates import format_skeleton
from babel.numbers import format_decimal
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from alt.frontend.ui.backend import backend
from alt.frontend.ui.charts import Series, bar_chart, line_chart
from alt.frontend.ui.render import gettext, render
from alt.frontend.ui.viewer import ViewerDep
from alt.platform.errors import AltError

PERIODS = (7, 30, 90, 365)
MARKS = ("grounded", "extractive", "none")


def _marks(locale: str) -> dict[str, str]:
    return {
        "grounded": gettext(locale, "Grounded (model)"),
        "extractive": gettext(locale, "Extractive (sentences)"),
        "none": gettext(locale, "Not marked"),
    }


def _desc(locale: str, labels: Sequence[str], values: Sequence[int]) -> str:
    """What a chart of one series shows, in words."""
    if not values:
        return gettext(locale, "No days to show.")
    most = max(values)
    return gettext(
        locale,
        "From %(first)s to %(last)s: %(total)s in all, at most %(most)s on one day (%(day)s).",
        first=labels[0],
        last=labels[-1],
        total=format_decimal(sum(values), locale=locale),
        most=format_decimal(most, locale=locale),
        day=labels[values.index(most)],
    )


def figures_of(history: dict[str, Any], locale: str) -> dict[str, Any]:
    """The page's plots, each with its numbers (`columns`, `rows` of label and values), and the
    summaries per engine and mark over the period, from alt-backend's history."""
    days = history["days"]
    labels = [format_skeleton("MMMd", date.fromisoformat(d["day"]), locale=locale) for d in days]
    names = _marks(locale)
    by_mark = {mark: [0] * len(days) for mark in MARKS}
    engines: dict[str, list[int]] = {}
    for index, day in enumerate(days):
        for made in day["summaries"]:
            by_mark[made["mark"]][index] += made["summaries"]
            engines.setdefault(made["engine"], [0] * len(MARKS))[MARKS.index(made["mark"])] += made[
                "summaries"
            ]
    empty = gettext(locale, "No days to show.")

    def plot(key: str, title: str, column: str, *, line: bool = False) -> dict[str, Any]:
        values = [int(d[key]) for d in days]
        desc, chart_id = _desc(locale, labels, values), f"chart-{key}"
        svg = (
            line_chart(chart_id, title, desc, labels, Series(column, values), empty=empty)
            if line
            else bar_chart(chart_id, title, desc, labels, [Series(column, values)], empty=empty)
        )
        rows = [(label, value) for label, value in zip(labels, values, strict=True)]
        return {"svg": svg, "title": title, "columns": [column], "rows": rows, "legend": []}

    totals = {mark: format_decimal(sum(by_mark[mark]), locale=locale) for mark in MARKS}
    summaries_title = gettext(locale, "Summaries per day by mark")
    summaries_desc = gettext(
        locale,
        "From %(first)s to %(last)s: %(grounded)s grounded, %(extractive)s extractive and"
        " %(none)s without a mark.",
        first=labels[0] if labels else "",
        last=labels[-1] if labels else "",
        **totals,
    )
    series = [Series(names[mark], by_mark[mark]) for mark in MARKS]
    summaries = {
        "svg": bar_chart(
            "chart-summaries", summaries_title, summaries_desc, labels, series, empty=empty
        ),
        "title": summaries_title,
        "columns": [names[mark] for mark in MARKS],
        "rows": [(label, *(by_mark[m][i] for m in MARKS)) for i, label in enumerate(labels)],
        "legend": [names[mark] for mark in MARKS],
    }
    return {
        "figures": [
            plot(
                "articles",
                gettext(locale, "Articles fetched per day"),
                gettext(locale, "Articles fetched"),
            ),
            plot(
                "reads",
                gettext(locale, "Articles read per day"),
                gettext(locale, "Articles read"),
                line=True,
            ),
            plot("errors", gettext(locale, "Feed errors per day"), gettext(locale, "Feed errors")),
            summaries,
        ],
        "marks": [names[mark] for mark in MARKS],
        "engines": sorted(engines.items()),
    }


def period_of(days: str, locale: str) -> int:
    """The page's period in days, 1 to a year."""
    if not days.isdigit() or not 1 <= int(days) <= max(PERIODS):
        raise AltError(400, "bad_period", gettext(locale, "Choose a period of 1 to 365 days."))
    return int(days)


def router(route_class: type[APIRoute], dependencies: Sequence[Any] = ()) -> APIRouter:
    r = APIRouter(route_class=route_class, dependencies=list(dependencies), include_in_schema=False)

    @r.get("/stats")
    async def stats_page(
        request: Request, viewer: ViewerDep, days: Annotated[str, Query(max_length=8)] = "30"
    ) -> HTMLResponse:
        period = period_of(days, viewer.locale)
        api = backend(request, viewer)
        stats, counts, history = await asyncio.gather(
            api.get("/v1/stats"),
            api.get("/v1/unread-counts"),
            api.get("/v1/stats/history", days=period),
        )
        return render(
            request,
            "stats.html",
            {
                "viewer": viewer,
                "stats": stats,
                "total_unread": counts["total"],
                "days": period,
                "number": lambda n: format_decimal(n, locale=viewer.locale),
                "periods": PERIODS,
                **figures_of(history, viewer.locale),
            },
        )

    return r
