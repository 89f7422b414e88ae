"""Reader UI benchmark: alt-frontend's unread page `/` and article page `/articles/{id}` under
wrk, side by side with the same requests made directly to alt-backend's JSON API, in one run on
the API benchmark's data set; the JavaScript and CSS each page ships (gzipped); Lighthouse's
phone scores of both pages. See bench/ui/README.md.

    python -m bench.ui.run                                  # 1,000,000 articles, 100 users
    python -m bench.ui.run --articles 20000 --users 10 --seconds 5 --warmup 1   # a few minutes

Needs PostgreSQL (ALT_TEST_DATABASE_URL, as the tests), wrk, node/npm and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from bench.api.run import (
    MAX_SECONDS,
    SERVICE_TOKENS_PER_RUN,
    Scenario,
    Seeded,
    _cpu_s,
    _machine_busy_s,
    _tree,
    seed,
    serving,
    write_data,
)
from bench.api.run import wrk as wrk_api
from bench.ingest.run import ADMIN_URL, scratch_database
from bench.ui.report import (
    Measured,
    all_runs,
    budget_lines,
    lighthouse_lines,
    measured,
    shipped,
    side_by_side,
    verdicts,
)
from tests.support.ports import free_port

from alt.auth.passwords import hash_password
from alt.frontend.ui import reading
from alt.platform.migrate import migrate
from alt.platform.service_tokens import HEADER as SERVICE_TOKEN_HEADER
from alt.platform.service_tokens import KeyRing, ServiceTokens, generate_key_file
from alt.services import Database

HERE = Path(__file__).parent
LUA = HERE / "load.lua"
LIGHTHOUSE = HERE / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench reader password"  # noqa: S105 (the scratch users' password)
COOKIE = "alt_session"  # the session cookie's name on plain-http loopback
SERVICES = ("auth-service", "alt-backend", "alt-frontend")
URL_ENV = {
    "auth-service": "AUTH_SERVICE_URL",
    "alt-backend": "ALT_BACKEND_URL",
    "alt-frontend": "ALT_FRONTEND_URL",
}
# The page of alt-frontend and the JSON of alt-backend it is made from: the same request as the
# page's (its page size when the reading pages name one).
PAGE_SIZE = getattr(reading, "PAGE_SIZE", None)
VIEWS = {
    "unread": ("/", "/v1/articles?state=unread" + (f"&limit={PAGE_SIZE}" if PAGE_SIZE else "")),
    "article": ("/articles/{id}", "/v1/articles/{id}"),
}


# ---------------------------------------------------------------------------------------------
# The stack: auth-service, alt-backend and alt-frontend as deployed, users logged in
# ---------------------------------------------------------------------------------------------


@dataclass
class Stack:
    urls: dict[str, str]
    pids: dict[str, int]
    keys: Path
    databases: list[str]

    def tokens(self) -> ServiceTokens:
        return ServiceTokens("alt-frontend", KeyRing.load(self.keys))


def add_users(auth_db: str, users: list[uuid.UUID]) -> None:
    """The seeded users as auth-service's accounts (one password hash for all: hashing is slow)."""
    password_hash = hash_password(PASSWORD)
    with psycopg.connect(auth_db, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, %s)",
            [(user, email_of(n), password_hash) for n, user in enumerate(users)],
        )


def email_of(n: int) -> str:
    return f"reader{n}@bench.example.org"


@contextmanager
def stack(app_db: str, auth_db: str, workdir: Path, args: argparse.Namespace) -> Iterator[Stack]:
    keys = workdir / "service-keys.json"
    generate_key_file(keys)
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in SERVICES}
    env = {
        **os.environ,
        "DATABASE_URL": app_db,
        "AUTH_DATABASE_URL": auth_db,
        "ALT_SERVICE_KEYS_FILE": str(keys),
        "ALT_DATA_DIR": str(workdir),
        **{URL_ENV[name]: url for name, url in urls.items()},
        "ALT_WORKERS": str(args.workers),
        **({"ALT_DB_POOL_MAX": str(args.pool)} if args.pool else {}),
        "ALT_LOG_LEVEL": args.log_level,
        # Rate limits guard against abuse; the benchmark measures what is behind them.
        **dict.fromkeys(
            (
                "ALT_RATE_IP_PER_S",
                "ALT_RATE_IP_BURST",
                "ALT_RATE_USER_PER_S",
                "ALT_RATE_USER_BURST",
                "ALT_AUTH_LOGIN_IP_RATE",
                "ALT_AUTH_CSRF_IP_RATE",
            ),
            "1000000",
        ),
        **dict(setting.split("=", 1) for setting in args.env),
    }
    with ExitStack() as running:
        pids = {}
        for name in SERVICES:
            command = [sys.executable, "-m", "alt.cli", "serve", name]
            pids[name] = running.enter_context(serving(command, env, urls[name])).pid
        yield Stack(urls, pids, keys, [app_db, auth_db])


def log_in(edge: str, n: int) -> str:
    """A browser's login through the edge; its session cookie."""
    with httpx.Client(base_url=edge, timeout=60) as browser:
        csrf = browser.post("/api/auth/csrf").json()["csrf_token"]
        answer = browser.post(
            "/api/auth/login",
            json={"email": email_of(n), "password": PASSWORD, "code": None},
            headers={"X-CSRF-Token": csrf},
        )
        cookie = browser.cookies.get(COOKIE)
        if answer.status_code != 200 or not cookie:
            raise SystemExit(f"login of {email_of(n)} failed: {answer.status_code} {answer.text}")
        return cookie


class SessionTokens:
    """The user tokens the edge gets for the sessions (from auth-service's validate, as the edge
    asks for them): what bench.api's `write_data` mints for its requests to alt-backend."""

    def __init__(self, running: Stack, cookies: dict[uuid.UUID, str]) -> None:
        self.running = running
        self.cookies = cookies

    def mint(self, user: uuid.UUID) -> str:
        answer = httpx.post(
            f"{self.running.urls['auth-service']}/v1/auth/validate",
            json={"session_token": self.cookies[user], "unsafe": False, "csrf_token": None},
            headers={SERVICE_TOKEN_HEADER: self.running.tokens().issue("auth-service")},
            timeout=30,
        )
        answer.raise_for_status()
        token: str = answer.json()["token"]
        return token


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------


def lua(value: Any) -> str:
    """A Python value (dict, list, str, int, None) as a Lua literal."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(lua(item) for item in value) + "}"
    if value is None:
        return "nil"
    return json.dumps(value)  # JSON strings and numbers are valid Lua for these ASCII values


def page_data(path: str, cookies: dict[uuid.UUID, str], ids: dict[uuid.UUID, list[int]]) -> str:
    users = [
        {"headers": {"Cookie": f"{COOKIE}={cookie}"}, "path": path, "ids": ids.get(user, [])}
        for user, cookie in cookies.items()
    ]
    return f"return {lua({'method': 'GET', 'service_tokens': [], 'users': users})}\n"


def validate_data(cookies: dict[uuid.UUID, str], tokens: ServiceTokens) -> str:
    """auth-service's validate call, as the edge makes it for a GET page."""
    users = [
        {
            "headers": {"Content-Type": "application/json"},
            "path": "/v1/auth/validate",
            "body": json.dumps({"session_token": cookie, "unsafe": False, "csrf_token": None}),
            "ids": [],
        }
        for cookie in cookies.values()
    ]
    service = [tokens.issue("auth-service") for _ in range(SERVICE_TOKENS_PER_RUN)]
    return f"return {lua({'method': 'POST', 'service_tokens': service, 'users': users})}\n"


def wrk_ui(base: str, data: Path, clients: int, seconds: int) -> str:
    command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA)]
    return subprocess.run(
        [*command, base, "--", str(data)], capture_output=True, text=True, check=True
    ).stdout


def cpu_snapshot(running: Stack) -> dict[str, float]:
    """CPU seconds so far of each service (its worker processes too), of PostgreSQL's backends
    of the two databases, and of the whole machine."""
    names = [url.rsplit("/", 1)[1] for url in running.databases]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        backends = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)", (names,)
            ).fetchall()
        ]
    seconds = {name: sum(map(_cpu_s, _tree(pid))) for name, pid in running.pids.items()}
    seconds["PostgreSQL"] = sum(map(_cpu_s, backends))
    seconds["machine"] = _machine_busy_s()
    return seconds


def run_load(
    view: str, kind: str, clients: int, write: Any, base: str, args: argparse.Namespace, **ctx: Any
) -> Measured:
    """One scenario at `clients` connections: `write()` gives a fresh data file (tokens minted
    now), run first as a warm-up, then measured."""
    running: Stack = ctx["running"]
    run = wrk_api if kind == "API" else wrk_ui
    if args.warmup:
        run(base, write(), clients, args.warmup)
    data = write()
    before = cpu_snapshot(running)
    started = time.perf_counter()
    out = run(base, data, clients, args.seconds)
    seconds = time.perf_counter() - started
    after = cpu_snapshot(running)
    line = json.dumps(out) if isinstance(out, dict) else out
    requests = max(json.loads(line.strip().splitlines()[-1])["requests"], 1)
    spent = {part: after[part] - before[part] for part in before}
    ours = sum(value for part, value in spent.items() if part != "machine")
    return measured(
        view,
        kind,
        clients,
        line,
        cpu_ms={p: v * 1000 / requests for p, v in spent.items() if p != "machine"},
        # wrk itself counts as other load here (one core at most)
        others_cores=max(0.0, spent["machine"] - ours) / seconds,
    )


def scenarios(
    running: Stack,
    seeded: Seeded,
    cookies: dict[uuid.UUID, str],
    served: dict[str, bool],
    workdir: Path,
) -> list[tuple[str, str, str, Any]]:
    """(view, kind, base URL, data writer) of every scenario, page next to its API twin."""
    data = workdir / "data.lua"
    minted = SessionTokens(running, cookies)

    def api(path: str) -> Any:
        scenario = Scenario("api", "alt", "GET", dict.fromkeys(cookies, path), seeded.unread_ids)

        def write() -> Path:
            write_data(data, scenario, minted, running.tokens())  # type: ignore[arg-type]
            return data

        return write

    def page(path: str) -> Any:
        def write() -> Path:
            data.write_text(page_data(path, cookies, seeded.unread_ids))
            return data

        return write

    def validate() -> Path:
        data.write_text(validate_data(cookies, running.tokens()))
        return data

    out = [("session", "validate", running.urls["auth-service"], validate)]
    for view, (page_path, api_path) in VIEWS.items():
        out.append((view, "API", running.urls["alt-backend"], api(api_path)))
        if served[view]:
            out.append((view, "page", running.urls["alt-frontend"], page(page_path)))
    return out


# ---------------------------------------------------------------------------------------------
# What a page ships, and Lighthouse
# ---------------------------------------------------------------------------------------------


def page_url(running: Stack, view: str, seeded: Seeded) -> str:
    user = seeded.users[0]
    path = VIEWS[view][0].replace("{id}", str(seeded.unread_ids[user][0]))
    return running.urls["alt-frontend"] + path


def served_pages(running: Stack, seeded: Seeded, cookie: str) -> tuple[dict[str, bool], list[str]]:
    """Which pages answer 200 for a logged-in user (the reading pages may not exist yet)."""
    served, notes = {}, []
    for view in VIEWS:
        answer = httpx.get(page_url(running, view, seeded), cookies={COOKIE: cookie}, timeout=30)
        served[view] = answer.status_code == 200
        if not served[view]:
            notes.append(f"{view} page: {answer.status_code}, not measured")
    return served, notes


def shipped_sizes(running: Stack, url: str, cookie: str) -> tuple[dict[str, int], list[str]]:
    """The gzipped bytes on the wire of each script and style sheet the page at `url` loads,
    fetched from the edge as a browser would (Accept-Encoding: gzip); a file the edge sends
    uncompressed counts gzipped here."""
    with httpx.Client(base_url=running.urls["alt-frontend"], timeout=30) as client:
        html = client.get(url, cookies={COOKIE: cookie}).text
        scripts, styles = shipped(html)
        sizes = {}
        for src in scripts + styles:
            with client.stream("GET", src, headers={"Accept-Encoding": "gzip"}) as answer:
                answer.raise_for_status()
                raw = b"".join(answer.iter_raw())
            gzipped = answer.headers.get("content-encoding") == "gzip"
            sizes[src] = len(raw if gzipped else gzip.compress(raw, compresslevel=9))
    return sizes, scripts


def lighthouse(url: str, cookie: str, out: Path, workdir: Path) -> dict[str, Any]:
    """Lighthouse's report of `url` (phone profile, its default) in Debian's Chromium, logged in."""
    if not LIGHTHOUSE.exists():
        subprocess.run(
            ["npm", "ci", "--prefix", str(HERE), "--no-audit", "--no-fund", "--ignore-scripts"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    headers = workdir / "lighthouse-headers.json"  # a file: the cookie stays off command lines
    headers.write_text(json.dumps({"Cookie": f"{COOKIE}={cookie}"}))
    command = [
        "node",
        str(LIGHTHOUSE),
        url,
        "--output=json",
        f"--output-path={out}",
        "--only-categories=performance,accessibility",
        "--chrome-flags=--headless --no-sandbox --disable-gpu",
        f"--extra-headers={headers}",
        "--quiet",
    ]
    subprocess.run(command, check=True, env={**os.environ, "CHROME_PATH": CHROMIUM}, timeout=300)
    report: dict[str, Any] = json.loads(out.read_text())
    return report


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--feeds", type=int, default=2_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--subscriptions", type=int, default=100, help="feeds per user")
    parser.add_argument(
        "--clients",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[4, 16],
        help="concurrent connections, one run each (comma-separated)",
    )
    parser.add_argument("--seconds", type=int, default=15, help="per scenario and concurrency")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each measurement")
    parser.add_argument("--workers", type=int, default=1, help="ALT_WORKERS of every service")
    parser.add_argument("--pool", type=int, help="ALT_DB_POOL_MAX (default: the setting's)")
    parser.add_argument("--log-level", default="INFO", help="the services' (as deployed: INFO)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for every service (repeatable), e.g. to compare a setting's values",
    )
    parser.add_argument("--no-lighthouse", action="store_true", help="skip Lighthouse")
    parser.add_argument("--out", type=Path, default=Path("build/bench-ui"), help="reports here")
    # bench.api's seeding checks this many pages of unread articles per user.
    parser.set_defaults(deep_page=1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("the load generator is wrk: apt-get install wrk")
    if not 1 <= args.seconds + args.warmup <= MAX_SECONDS:
        raise SystemExit(f"--seconds + --warmup must be at most {MAX_SECONDS}")
    if any("=" not in setting for setting in args.env):
        raise SystemExit("--env takes NAME=VALUE")
    return args


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"## {args.articles:,} articles, {args.feeds:,} feeds, {args.users} users x "
        f"{args.subscriptions} feeds; wrk closed loop, {args.seconds} s per run; "
        f"{args.workers} worker(s) per service; {os.cpu_count()} CPUs"
        + (f"; {', '.join(args.env)}" if args.env else "")
    ]
    print(lines[0], flush=True)
    results: list[Measured] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database() as app_db,
        scratch_database() as auth_db,
    ):
        workdir = Path(tmp)
        migrate(app_db, Database.APP)
        migrate(auth_db, Database.AUTH)
        seeded = seed(app_db, args)
        add_users(auth_db, seeded.users)
        print(f"seeded in {seeded.seconds:.0f} s", flush=True)
        with stack(app_db, auth_db, workdir, args) as running:
            edge = running.urls["alt-frontend"]
            cookies = {user: log_in(edge, n) for n, user in enumerate(seeded.users)}
            first = cookies[seeded.users[0]]
            served, notes = served_pages(running, seeded, first)
            lines += notes
            for note in notes:
                print(note, flush=True)
            todo = scenarios(running, seeded, cookies, served, workdir)
            for clients in args.clients:
                for view, kind, base, write in todo:
                    result = run_load(view, kind, clients, write, base, args, running=running)
                    print(
                        f"  {view} {kind}, {clients} clients: p50 {result.p50_ms:.1f} ms, "
                        f"p99 {result.p99_ms:.1f} ms, {result.rps:,.0f} req/s, "
                        f"{result.errors} errors",
                        flush=True,
                    )
                    results.append(result)
            lines += ["", *side_by_side(results), "", *all_runs(results), "", *verdicts(results)]
            for view in (v for v in VIEWS if served[v]):
                sizes, scripts = shipped_sizes(running, page_url(running, view, seeded), first)
                lines += ["", f"{view} page ships:"]
                lines += [f"  {url}: {size / 1024:.1f} KB gzipped" for url, size in sizes.items()]
                lines += budget_lines(f"{view} page", sizes, scripts)
            if not args.no_lighthouse:
                lines.append("")
                for view in (v for v in VIEWS if served[v]):
                    out = (args.out / f"lighthouse-{view}.json").resolve()
                    report = lighthouse(page_url(running, view, seeded), first, out, workdir)
                    lines += lighthouse_lines(f"{view} page", report)
                    lines.append(f"  report: {out}")
    report_file = args.out / "report.md"
    report_file.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[1:]), flush=True)
    print(f"\n(saved in {report_file})", flush=True)


if __name__ == "__main__":
    main()
