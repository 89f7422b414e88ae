"""The UI benchmark's parsing and report (bench/ui/report.py, the data files of bench/ui/run.py):
what it reads from wrk, pages and Lighthouse, and what it prints. No timing here."""

from __future__ import annotations

import json
import uuid

from bench.ui.report import (
    Measured,
    budget_lines,
    lighthouse_lines,
    lighthouse_scores,
    measured,
    shipped,
    side_by_side,
    verdicts,
)
from bench.ui.run import lua, page_data

WRK_OUT = (
    "Running 10s test @ http://127.0.0.1:1\n"
    '{"requests": 2000, "duration_us": 10000000, "p50_us": 12500, "p90_us": 30000, '
    '"p99_us": 80000, "max_us": 90000, "errors": 3, "status_errors": 3, "timeouts": 0}\n'
)


def run(view: str, kind: str, clients: int, p50: float, p99: float) -> Measured:
    return Measured(view, kind, clients, 100, 0, p50, p99, 10.0)


def test_wrk_s_last_line_gives_the_run() -> None:
    result = measured("unread", "page", 16, WRK_OUT, cpu_ms={"alt-frontend": 1.5})
    assert (result.requests, result.errors, result.rps) == (2000, 3, 200.0)
    assert (result.p50_ms, result.p99_ms) == (12.5, 80.0)
    assert result.cpu_ms == {"alt-frontend": 1.5}


def test_pages_stand_beside_their_api_with_the_ratios() -> None:
    results = [
        run("unread", "API", 16, 10.0, 40.0),
        run("unread", "page", 16, 12.0, 90.0),
        run("article", "page", 16, 5.0, 20.0),  # no API twin: no row
        run("session", "validate", 16, 3.0, 9.0),
    ]
    rows = side_by_side(results)
    assert len(rows) == 3
    assert rows[2].startswith("| unread | 16 | 10.0 | 40.0 | 12.0 | 90.0 | 1.20 | 2.25 |")


def test_the_targets_are_judged_at_16_clients() -> None:
    results = [
        run("unread", "API", 4, 1.0, 1.0),
        run("unread", "page", 4, 50.0, 500.0),  # 4 clients: not judged
        run("unread", "API", 16, 10.0, 60.0),
        run("unread", "page", 16, 15.0, 99.0),
        run("article", "API", 16, 10.0, 40.0),
        run("article", "page", 16, 16.0, 100.0),
    ]
    lines = verdicts(results)
    assert lines == [
        "target article page p99, 16 clients < 100 ms: 100.00 ms NOT MET",
        "target article page/API p50, 16 clients <= 1.5 x: 1.60 x NOT MET",
        "target article page/API p99, 16 clients <= 1.5 x: 2.50 x NOT MET",
        "target unread page p99, 16 clients < 100 ms: 99.00 ms met",
        "target unread page/API p50, 16 clients <= 1.5 x: 1.50 x met",
        "target unread page/API p99, 16 clients <= 1.5 x: 1.65 x NOT MET",
    ]


def test_a_page_ships_its_script_files_and_style_sheets_only() -> None:
    html = """<!doctype html><html><head>
    <link rel="stylesheet" href="/static/css/app.css?v=1">
    <link rel="icon" href="/static/icons/icon.svg"><link rel="manifest" href="/m.json">
    <link rel="preload stylesheet" href="/static/css/reading.css?v=2">
    <script src="/static/vendor/htmx.min.js?v=3" defer></script>
    <script type="application/json">{"not": "loaded"}</script>
    </head><body><script src="/static/js/app.js?v=4" defer></script></body></html>"""
    assert shipped(html) == (
        ["/static/vendor/htmx.min.js?v=3", "/static/js/app.js?v=4"],
        ["/static/css/app.css?v=1", "/static/css/reading.css?v=2"],
    )


def test_the_budgets_sum_scripts_and_style_sheets_apart() -> None:
    sizes = {"/a.js": 40 * 1024, "/b.js": 11 * 1024, "/a.css": 29 * 1024}
    assert budget_lines("unread page", sizes, ["/a.js", "/b.js"]) == [
        "target unread page JS gzipped < 50 KB: 51.00 KB NOT MET",
        "target unread page CSS gzipped < 30 KB: 29.00 KB met",
    ]


def test_lighthouse_scores_are_read_as_percentages() -> None:
    report = {
        "categories": {"performance": {"score": 0.97}, "accessibility": {"score": 0.9}},
    }
    assert lighthouse_scores(report) == {"performance": 97.0, "accessibility": 90.0}
    assert lighthouse_lines("article page", report) == [
        "target lighthouse article page performance >= 95: 97 met",
        "target lighthouse article page accessibility >= 95: 90 NOT MET",
    ]


def test_a_lighthouse_run_without_scores_says_why() -> None:
    failed = {
        "categories": {"performance": {"score": None}},
        "runtimeError": {"code": "NO_FCP", "message": "The page did not paint any content."},
    }
    assert lighthouse_scores(failed) == {}
    assert "no score" in lighthouse_lines("unread page", failed)[0]
    assert "NO_FCP" in lighthouse_lines("unread page", failed)[0]


def test_data_files_are_lua_literals() -> None:
    assert lua({"a-b": [1, 'x"y'], "n": None}) == '{["a-b"] = {1, "x\\"y"}, ["n"] = nil}'
    user = uuid.uuid4()
    data = page_data("/articles/{id}", {user: "secret.cookie"}, {user: [7, 8]})
    assert data.startswith("return {")
    assert '["Cookie"] = "alt_session=secret.cookie"' in data
    assert '["ids"] = {7, 8}' in data
    assert json.dumps("/articles/{id}") in data
