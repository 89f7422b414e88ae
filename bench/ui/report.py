"""What the UI benchmark reads and prints: wrk's result line, the files a page ships, Lighthouse's
scores, and the tables (no I/O here, so that it can be tested on its own)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

PAGE_P99_TARGET_MS = 100.0
RATIO_TARGET = 1.5
TARGET_CLIENTS = 16
JS_BUDGET = 50 * 1024
CSS_BUDGET = 30 * 1024
LIGHTHOUSE_TARGET = 95
LIGHTHOUSE_CATEGORIES = ("performance", "accessibility")


@dataclass
class Measured:
    """One wrk run: a scenario at a number of clients."""

    view: str  # "unread", "article", "session"
    kind: str  # "page" (alt-frontend), "API" (alt-backend), "validate" (auth-service)
    clients: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    rps: float
    cpu_ms: dict[str, float] = field(default_factory=dict)
    """CPU time per request of each part (services, PostgreSQL)."""
    others_cores: float = 0.0


def measured(view: str, kind: str, clients: int, wrk_line: str, **extra: Any) -> Measured:
    """A run from the JSON line that both wrk scripts print last."""
    out = json.loads(wrk_line.strip().splitlines()[-1])
    seconds = out["duration_us"] / 1e6
    return Measured(
        view=view,
        kind=kind,
        clients=clients,
        requests=out["requests"],
        errors=out["errors"],
        p50_ms=out["p50_us"] / 1000,
        p99_ms=out["p99_us"] / 1000,
        rps=out["requests"] / seconds if seconds else 0.0,
        **extra,
    )


def _ratio(page: float, api: float) -> str:
    return f"{page / api:.2f}" if api else "-"


def side_by_side(results: list[Measured]) -> list[str]:
    """Page against API per view and clients, with the page/API time ratios."""
    by = {(r.view, r.kind, r.clients): r for r in results}
    out = [
        "| view | clients | API p50 ms | API p99 ms | page p50 ms | page p99 ms "
        "| page/API p50 | page/API p99 | page req/s | page errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for view, kind, clients in sorted(by, key=lambda k: (k[0] != "unread", k[0], k[2])):
        if kind != "page" or (view, "API", clients) not in by:
            continue
        page, api = by[(view, "page", clients)], by[(view, "API", clients)]
        out.append(
            f"| {view} | {clients} | {api.p50_ms:.1f} | {api.p99_ms:.1f} | {page.p50_ms:.1f} "
            f"| {page.p99_ms:.1f} | {_ratio(page.p50_ms, api.p50_ms)} "
            f"| {_ratio(page.p99_ms, api.p99_ms)} | {page.rps:,.0f} | {page.errors} |"
        )
    return out


def verdicts(results: list[Measured]) -> list[str]:
    by = {(r.view, r.kind, r.clients): r for r in results}
    out = []
    for (view, kind, clients), page in sorted(by.items()):
        if kind != "page" or clients != TARGET_CLIENTS:
            continue
        out.append(
            _verdict(f"{view} page p99, {clients} clients", page.p99_ms, PAGE_P99_TARGET_MS, "ms")
        )
        api = by.get((view, "API", clients))
        if api is not None and api.p99_ms and api.p50_ms:
            for which, ratio in (
                ("p50", page.p50_ms / api.p50_ms),
                ("p99", page.p99_ms / api.p99_ms),
            ):
                out.append(
                    _verdict(
                        f"{view} page/API {which}, {clients} clients",
                        ratio,
                        RATIO_TARGET,
                        "x",
                        inclusive=True,
                    )
                )
    return out


def _verdict(what: str, value: float, target: float, unit: str, *, inclusive: bool = False) -> str:
    met = value <= target if inclusive else value < target
    sign = "<=" if inclusive else "<"
    return (
        f"target {what} {sign} {target:g} {unit}: {value:.2f} {unit} {'met' if met else 'NOT MET'}"
    )


def all_runs(results: list[Measured]) -> list[str]:
    """Every run, with the CPU time each part spent per request."""
    parts = sorted({part for r in results for part in r.cpu_ms})
    out = [
        "| scenario | clients | requests | errors | p50 ms | p99 ms | req/s | "
        + " | ".join(f"{part} CPU ms/req" for part in parts)
        + " | other load (cores) |",
        "|---|---|---|---|---|---|---|" + "---|" * len(parts) + "---|",
    ]
    for r in results:
        cpu = " | ".join(f"{r.cpu_ms.get(part, 0.0):.2f}" for part in parts)
        out.append(
            f"| {r.view} {r.kind} | {r.clients} | {r.requests:,} | {r.errors} | {r.p50_ms:.1f} "
            f"| {r.p99_ms:.1f} | {r.rps:,.0f} | {cpu} | {r.others_cores:.2f} |"
        )
    return out


class _Shipped(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script" and values.get("src"):
            self.scripts.append(values["src"])
        rels = values.get("rel", "").lower().split()
        if tag == "link" and "stylesheet" in rels and values.get("href"):
            self.styles.append(values["href"])


def shipped(html: str) -> tuple[list[str], list[str]]:
    """The scripts (`<script src>`) and style sheets (`<link rel=stylesheet>`) a page loads."""
    parser = _Shipped()
    parser.feed(html)
    parser.close()
    return parser.scripts, parser.styles


def budget_lines(page: str, sizes: dict[str, int], scripts: list[str]) -> list[str]:
    """The gzipped bytes of a page's scripts and style sheets against the budgets."""
    js = sum(size for url, size in sizes.items() if url in scripts)
    css = sum(size for url, size in sizes.items() if url not in scripts)
    return [
        _verdict(f"{page} JS gzipped", js / 1024, JS_BUDGET / 1024, "KB"),
        _verdict(f"{page} CSS gzipped", css / 1024, CSS_BUDGET / 1024, "KB"),
    ]


def lighthouse_scores(report: dict[str, Any]) -> dict[str, float]:
    """Lighthouse's category scores, 0-100 (a category that could not be scored is left out)."""
    scores = {}
    for name in LIGHTHOUSE_CATEGORIES:
        score = report.get("categories", {}).get(name, {}).get("score")
        if score is not None:
            scores[name] = round(score * 100, 1)
    return scores


def lighthouse_lines(page: str, report: dict[str, Any]) -> list[str]:
    scores = lighthouse_scores(report)
    out = []
    for name in LIGHTHOUSE_CATEGORIES:
        if name not in scores:
            out.append(f"lighthouse {page} {name}: no score ({report.get('runtimeError')})")
            continue
        met = scores[name] >= LIGHTHOUSE_TARGET
        out.append(
            f"target lighthouse {page} {name} >= {LIGHTHOUSE_TARGET}: {scores[name]:g} "
            f"{'met' if met else 'NOT MET'}"
        )
    return out
