"""Charts drawn as SVG on the server (`alt.frontend.ui.charts`): bars and dots where the values
say, zero and empty data drawn without failing, every text escaped, an accessible picture."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from alt.frontend.ui import charts
from alt.frontend.ui.charts import Series, bar_chart, line_chart, nice_top

SVG = "{http://www.w3.org/2000/svg}"
LABELS = ["Dec 1", "Dec 2", "Dec 3", "Dec 4"]
PLOT_BOTTOM = charts.HEIGHT - charts.BOTTOM
PLOT_HEIGHT = charts.HEIGHT - charts.TOP - charts.BOTTOM


def parse(svg: str) -> ET.Element:
    """The chart as XML (it must be well formed), in the SVG namespace like a browser reads it."""
    text = str(svg).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1)
    return ET.fromstring(text)  # noqa: S314 (our own output)


def bars(svg: str) -> list[ET.Element]:
    return list(parse(svg).iter(f"{SVG}rect"))


def test_bar_heights_are_proportional_to_the_values_from_zero() -> None:
    svg = bar_chart("c", "Articles", "desc", LABELS, [Series("Articles", [10, 20, 0, 5])])
    drawn = bars(svg)
    assert [int(bar.get("data-value", "")) for bar in drawn] == [10, 20, 5]  # no bar for 0
    heights = [float(bar.get("height", "")) for bar in drawn]
    top = nice_top(20)
    assert heights == pytest.approx([PLOT_HEIGHT * v / top for v in (10, 20, 5)], abs=0.01)
    assert heights[1] == pytest.approx(2 * heights[0], abs=0.02)
    for bar in drawn:  # every bar stands on the axis
        bottom = float(bar.get("y", "")) + float(bar.get("height", ""))
        assert bottom == pytest.approx(PLOT_BOTTOM, abs=0.01)
    xs = [float(bar.get("x", "")) for bar in drawn]
    assert xs == sorted(xs), "days left to right"


def test_stacked_bars_add_up_and_take_their_series_colour() -> None:
    series = [Series("Grounded", [3, 0]), Series("Extractive", [1, 2]), Series("None", [0, 2])]
    drawn = bars(bar_chart("s", "Summaries", "desc", LABELS[:2], series))
    assert [(bar.get("class"), bar.get("data-value")) for bar in drawn] == [
        ("chart-bar series-0", "3"),
        ("chart-bar series-1", "1"),
        ("chart-bar series-1", "2"),
        ("chart-bar series-2", "2"),
    ]
    first_day = drawn[:2]
    top_of_first = float(first_day[1].get("y", ""))
    assert PLOT_BOTTOM - top_of_first == pytest.approx(PLOT_HEIGHT * 4 / nice_top(4), abs=0.02)
    # The second segment sits on the first.
    assert float(first_day[0].get("y", "")) == pytest.approx(
        top_of_first + float(first_day[1].get("height", "")), abs=0.01
    )


def test_zero_and_empty_data_draw_an_axis_or_a_message() -> None:
    zeros = bar_chart("z", "Errors", "none", LABELS, [Series("Errors", [0, 0, 0, 0])])
    assert bars(zeros) == []
    axis = [t.text for t in parse(zeros).iter(f"{SVG}text")]
    assert axis[:3] == ["0", "0.5", "1"]
    line = parse(line_chart("lz", "Reads", "none", LABELS, Series("Reads", [0, 0, 0, 0])))
    dots = list(line.iter(f"{SVG}circle"))
    assert {float(dot.get("cy", "")) for dot in dots} == {PLOT_BOTTOM}
    for empty in (
        bar_chart("e", "Errors", "none", [], [], empty="No days"),
        line_chart("le", "Reads", "none", [], Series("Reads", []), empty="No days"),
    ):
        texts = [t.text for t in parse(empty).iter(f"{SVG}text")]
        assert texts == ["No days"]


def test_line_dots_sit_at_their_values() -> None:
    svg = parse(line_chart("l", "Reads", "desc", LABELS, Series("Reads", [0, 50, 100, 25])))
    dots = list(svg.iter(f"{SVG}circle"))
    ys = [float(dot.get("cy", "")) for dot in dots]
    assert ys == pytest.approx(
        [PLOT_BOTTOM - PLOT_HEIGHT * v / 100 for v in (0, 50, 100, 25)], abs=0.01
    )
    points = svg.find(f"{SVG}polyline")
    assert points is not None
    assert len(points.get("points", "").split()) == 4


def test_every_text_is_escaped() -> None:
    evil = '<script>alert("x")</script> & "quotes"'
    svg = bar_chart(evil, evil, evil, [evil, "b"], [Series(evil, [1, 2])], empty=evil)
    assert "<script>" not in svg
    tree = parse(svg)  # still well-formed XML
    assert tree.find(f"{SVG}title") is not None
    assert tree.find(f"{SVG}title").text == evil  # type: ignore[union-attr]
    assert tree.find(f"{SVG}desc").text == evil  # type: ignore[union-attr]
    assert tree.get("id") == evil
    assert any(t.text == evil for t in tree.iter(f"{SVG}text"))
    line = line_chart("l", evil, evil, [evil], Series(evil, [1]))
    assert "<script>" not in line
    parse(line)


def test_a_chart_is_an_image_named_and_described_that_scales() -> None:
    tree = parse(bar_chart("c", "Articles per day", "30 in all", LABELS, [Series("A", [1] * 4)]))
    assert tree.get("role") == "img"
    assert tree.get("aria-labelledby") == "c-title c-desc"
    assert tree.find(f"{SVG}title").get("id") == "c-title"  # type: ignore[union-attr]
    assert tree.find(f"{SVG}desc").get("id") == "c-desc"  # type: ignore[union-attr]
    assert tree.get("viewBox") == f"0 0 {charts.WIDTH} {charts.HEIGHT}"
    assert tree.get("width") is None
    assert tree.get("style") is None


def test_day_labels_are_thinned_out_to_fit_and_keep_the_newest() -> None:
    labels = [f"d{n}" for n in range(30)]
    tree = parse(bar_chart("c", "t", "d", labels, [Series("A", [1] * 30)]))
    shown = [t.text for t in tree.iter(f"{SVG}text")][3:]  # after the value axis
    assert "d29" in shown
    assert 2 <= len(shown) <= charts.MAX_LABELS


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (10, 10), (11, 20), (480, 500)]
)
def test_the_axis_top_is_a_round_number_at_or_above_the_largest_value(value: int, top: int) -> None:
    assert nice_top(value) == top
