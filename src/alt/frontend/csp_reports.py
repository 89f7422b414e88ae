"""Where browsers report what the Content-Security-Policy blocked on our pages.

A report means a page tried to run or load something the policy forbids: a bug in a template,
or content that got past the sanitiser. Each is logged (size-capped, fields trimmed) and
counted in `alt_csp_violations_total`, so that an operator sees it; the answer is always 204.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from alt.platform.logging import get_logger
from alt.platform.metrics import CSP_VIOLATIONS

log = get_logger(__name__)

REPORT_PATH = "/csp-report"
MAX_REPORT_BYTES = 16_384
DIRECTIVES = frozenset(
    {
        "default-src",
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "style-src",
        "style-src-elem",
        "style-src-attr",
        "img-src",
        "connect-src",
        "font-src",
        "object-src",
        "manifest-src",
        "worker-src",
        "frame-src",
        "child-src",
        "media-src",
        "base-uri",
        "form-action",
        "frame-ancestors",
    }
)
_FIELDS = ("effective-directive", "violated-directive", "blocked-uri", "document-uri")


def _reports(body: bytes) -> list[dict[str, Any]]:
    """The reports of a `report-uri` body (`{"csp-report": {...}}`) or of a Reporting API body
    (`[{"type": "csp-violation", "body": {...}}]`, camelCase keys)."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
        return [data["csp-report"]]
    if isinstance(data, list):
        return [
            {_dashed(key): value for key, value in item["body"].items()}
            for item in data
            if isinstance(item, dict) and isinstance(item.get("body"), dict)
        ]
    return []


def _dashed(key: str) -> str:
    return "".join("-" + c.lower() if c.isupper() else c for c in key).replace("-u-r-l", "-uri")


def router(route_class: type[APIRoute], dependencies: Sequence[Any] = ()) -> APIRouter:
    r = APIRouter(route_class=route_class, dependencies=list(dependencies))

    @r.post(REPORT_PATH, status_code=204, include_in_schema=False)
    async def csp_report(request: Request) -> Response:
        body = (await request.body())[:MAX_REPORT_BYTES]
        for report in _reports(body)[:10]:
            directive = str(
                report.get("effective-directive") or report.get("violated-directive") or "?"
            )
            name = directive.split(" ")[0]
            # A fixed set of labels: the body is anyone's, and each label is a metric series.
            CSP_VIOLATIONS.labels(directive=name if name in DIRECTIVES else "other").inc()
            log.warning(
                "csp_violation",
                **{k.replace("-", "_"): str(report.get(k, ""))[:300] for k in _FIELDS},
            )
        return Response(status_code=204)

    return r
