"""PAR-12: every HTML answer of the edge carries the strict policy, and a script that a page
did not ship is blocked and reported to `/csp-report`."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tests.backend.conftest import BackendStack
from tests.support.waiting import until
from tests.ui.conftest import UI

PAGES = ["/login", "/setup?token=x", "/no-such-page", "/static/js/app.js"]


def reported(directive: str) -> float:
    value = REGISTRY.get_sample_value("alt_csp_violations_total", {"directive": directive})
    return value or 0.0


@pytest.mark.parametrize("path", PAGES)
async def test_every_answer_has_the_strict_policy(stack: BackendStack, path: str) -> None:
    answer = await stack.browser().http.get(path)
    policy = answer.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert directive in policy, (path, directive)
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    if answer.headers["content-type"].startswith("text/html"):
        assert "charset=utf-8" in answer.headers["content-type"]


async def test_an_injected_inline_script_is_blocked_and_reported(ui: UI) -> None:
    await ui.goto("/login")
    before = reported("script-src-elem")
    ran = await ui.page.evaluate(
        """() => {
            window.injected = false;
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            return window.injected;
        }"""
    )
    assert ran is False
    await until(
        lambda: _async(reported("script-src-elem") > before), 10, "the browser's CSP report"
    )
    await until(
        lambda: _async(any("CSP violation: script-src-elem" in p for p in ui.problems)),
        10,
        "the page's securitypolicyviolation event",
    )
    ui.problems.clear()  # the violation was the point of this test


async def test_reports_of_every_shape_are_taken_and_bad_ones_ignored(stack: BackendStack) -> None:
    http = stack.browser().http
    before = reported("img-src")
    old = {"csp-report": {"violated-directive": "img-src", "blocked-uri": "https://x.example"}}
    new = [{"type": "csp-violation", "body": {"effectiveDirective": "img-src"}}]
    answers = [
        await http.post(
            "/csp-report", json=old, headers={"content-type": "application/csp-report"}
        ),
        await http.post(
            "/csp-report", json=new, headers={"content-type": "application/reports+json"}
        ),
        await http.post("/csp-report", content=b"{not json"),
        await http.post("/csp-report", content=b"x" * 100_000),
    ]
    assert [a.status_code for a in answers] == [204, 204, 204, 204]
    assert reported("img-src") == before + 2


async def _async(value: bool) -> bool:
    return value
