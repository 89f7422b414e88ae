"""Charts as SVG made on the server: bars (stacked when there are several series) and lines.

The picture scales with its box (a viewBox and CSS `width: 100%`), so it reads at phone width;
colours come from CSS classes (`series-0`, `series-1`... and the chart's parts), so the light and
dark themes both work and the CSP (no style attributes) holds. Each chart is an `<svg
role="img">` named by its `<title>` and described by its `<desc>`; the page puts the numbers in
a table beside it for whoever cannot see the picture. Every text is escaped here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 480
HEIGHT = 200
LEFT = 44  # room for the value axis's labels
RIGHT = 32  # room for half of the newest day's label, centred under its bar
TOP = 12
BOTTOM = 30  # room for the day labels
MAX_LABELS = 5
BAR_SHARE = 0.7  # of a day's band; the rest is the gap between bars


@dataclass(frozen=True)
class Series:
    """Values, one per label, drawn in the colour of `series-{index}` and named `name` (in the
    tooltips)."""

    name: str
    values: Sequence[int]


def nice_top(value: int) -> int:
    """The value axis's top: `value` rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1
    power: int = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _open(chart_id: str, title: str, desc: str, kind: str) -> list[str]:
    return [
        f'<svg class="chart chart-{kind}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc"'
        f' id="{escape(chart_id)}">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]


def _axes(labels: Sequence[str], top: int, plot_w: float, plot_h: float) -> list[str]:
    """Grid lines at 0, half and the top with their values, and every few labels under the
    bars (all of them would overlap at phone width)."""
    parts = []
    for share in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - share)
        parts.append(
            f'<line class="chart-grid" x1="{LEFT}" x2="{_num(LEFT + plot_w)}"'
            f' y1="{_num(y)}" y2="{_num(y)}"/>'
            f'<text class="chart-axis" x="{LEFT - 6}" y="{_num(y + 5)}"'
            f' text-anchor="end">{_num(top * share)}</text>'
        )
    band = plot_w / len(labels) if labels else plot_w
    every = max(1, math.ceil(len(labels) / MAX_LABELS))
    for index in range(len(labels) - 1, -1, -every):  # the newest day always has its label
        x = LEFT + band * (index + 0.5)
        parts.append(
            f'<text class="chart-axis" x="{_num(x)}" y="{HEIGHT - 8}"'
            f' text-anchor="middle">{escape(labels[index])}</text>'
        )
    return parts


def _empty(parts: list[str], empty: str) -> Markup:
    parts.append(
        f'<text class="chart-empty" x="{WIDTH // 2}" y="{HEIGHT // 2}"'
        f' text-anchor="middle">{escape(empty)}</text></svg>'
    )
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)


def bar_chart(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    empty: str = "",
) -> Markup:
    """Bars per label, one colour per series, stacked; heights proportional to the values on a
    shared axis from 0. `empty` is shown when there are no labels."""
    parts = _open(chart_id, title, desc, "bars")
    if not labels:
        return _empty(parts, empty)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = nice_top(max(totals, default=0))
    parts += _axes(labels, top, plot_w, plot_h)
    band = plot_w / len(labels)
    width = band * BAR_SHARE
    for index, label in enumerate(labels):
        x = LEFT + band * index + (band - width) / 2
        base = float(TOP + plot_h)
        for number, one in enumerate(series):
            value = one.values[index]
            if value <= 0:
                continue
            height = plot_h * value / top
            base -= height
            parts.append(
                f'<rect class="chart-bar series-{number}" x="{_num(x)}" y="{_num(base)}"'
                f' width="{_num(width)}" height="{_num(height)}" data-value="{value}">'
                f"<title>{escape(label)}: {escape(one.name)} {value}</title></rect>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)


def line_chart(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Series,
    *,
    empty: str = "",
) -> Markup:
    """A line through one value per label (at the middle of its day), with a dot on each."""
    parts = _open(chart_id, title, desc, "line")
    if not labels:
        return _empty(parts, empty)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_top(max(series.values, default=0))
    parts += _axes(labels, top, plot_w, plot_h)
    band = plot_w / len(labels)
    points = [
        (LEFT + band * (index + 0.5), TOP + plot_h * (1 - value / top))
        for index, value in enumerate(series.values)
    ]
    path = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
    parts.append(f'<polyline class="chart-line series-0" points="{path}"/>')
    for (x, y), label, value in zip(points, labels, series.values, strict=True):
        parts.append(
            f'<circle class="chart-dot series-0" cx="{_num(x)}" cy="{_num(y)}" r="3"'
            f' data-value="{value}"><title>{escape(label)}: {escape(series.name)} {value}</title>'
            "</circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)
