"""Reader API benchmark: alt-backend's unread list (keyset pages), unread counts and mark-read
under a load generator on loopback, against the classic OFFSET query of the same list as the
baseline, side by side in one run.

    python -m bench.api.run                     # 1,000,000 articles, 2,000 feeds, 100 users
    python -m bench.api.run --articles 100000 --clients 4,16 --seconds 10

A scratch database is seeded with INSERT … SELECT generate_series: articles spread evenly over
the feeds (each with the excerpt the pre-processor would have stored), each user subscribed to
`--subscriptions` feeds, every fifth article of a user's feeds read, one in 199 starred.

alt-backend runs as deployed: `alt serve alt-backend` with `--workers` processes
(ALT_WORKERS) of `--pool` database connections each (ALT_DB_POOL_MAX), INFO access logs, and
rate limiting (the buckets set high: they guard against abuse, the benchmark measures the routes
behind them). The baseline is the OFFSET query served the same way (bench/api/server.py:
alt-backend's app, middleware, token checks and response code with one OFFSET route, same
workers and pool), so only the SQL differs. auth-service is not measured: a stub serves the
benchmark's user-token public key.

On a machine of few cores that also runs PostgreSQL, a pool about the size of the cores keeps
the tail short at saturation: more connections than cores only let queries run side by side
with the Python process that has to answer them, and the requests that lose out wait longest.

The load generator is wrk (Debian package `wrk`: `apt-get install wrk`), in its own process,
closed loop: each of `--clients` connections sends its next request when the last answer came
(keep-alive), each request as a random user with that user's token and a fresh service token.
Every scenario runs `--seconds` at each concurrency after a warm-up. Prints p50/p99 latency and
requests/s per scenario, the CPU time alt-backend and PostgreSQL spent per request, how many
cores the machine's other processes kept busy meanwhile (on a shared machine, what the run
competed with), and the ratios OFFSET / Alt. Needs PostgreSQL (ALT_TEST_DATABASE_URL, as the
tests).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg.rows import dict_row
from tests.support.ports import free_port

from alt.backend.articles import encode_cursor
from alt.feeds.excerpt import excerpt
from alt.platform.identity import USER_TOKEN_HEADER
from alt.platform.migrate import migrate
from alt.platform.service_tokens import HEADER as SERVICE_TOKEN_HEADER
from alt.platform.service_tokens import KeyRing, ServiceTokens, generate_key_file
from alt.services import Database
from bench.api.server import OFFSET_PAGE, PAGE
from bench.api.server import PATH as OFFSET_PATH
from bench.ingest.run import scratch_database

KID = "bench-key"
LUA = Path(__file__).with_name("load.lua")
TARGET_MS = 50.0
# Service tokens live 60 s (checked with 5 s leeway); a run must end before the last one minted.
MAX_SECONDS = 45
SERVICE_TOKENS_PER_RUN = 16

# ---------------------------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------------------------

_SEED = [
    """INSERT INTO feeds (url, title, last_checked_at, last_success_at, next_check_at)
       SELECT 'https://feeds.example.org/' || g || '.xml', 'Feed ' || g, now(), now(),
              now() + interval '30 days'
         FROM generate_series(1, %(feeds)s) g""",
    # Newest first by id; feeds interleaved, so every feed has articles over the whole range.
    # The excerpt as the pre-processor stores it (see `content_html`).
    """INSERT INTO articles (feed_id, entry_hash, title, url, author, published_at, content_html,
                           excerpt)
       SELECT f.first_id + (g %% %(feeds)s), sha256(int8send(g)), 'Article ' || g,
              'https://example.org/a/' || g, 'Ann',
              now() - g * interval '17 seconds',
              '<p>' || repeat('Lorem ipsum dolor sit amet, consectetur. ', 8) || g || '</p>',
              %(excerpt)s
         FROM generate_series(1, %(articles)s) g, (SELECT min(id) AS first_id FROM feeds) f""",
    """INSERT INTO subscriptions (user_id, feed_id)
       SELECT u.id, f.first_id + ((u.n * 20 + k) %% %(feeds)s)
         FROM unnest(%(users)s::uuid[]) WITH ORDINALITY u(id, n),
              generate_series(0, %(subscriptions)s - 1) k,
              (SELECT min(id) AS first_id FROM feeds) f""",
    """INSERT INTO read_states (user_id, article_id, feed_id)
       SELECT s.user_id, a.id, a.feed_id
         FROM subscriptions s JOIN articles a ON a.feed_id = s.feed_id
        WHERE a.id %% 5 = 0""",
    """INSERT INTO favorites (user_id, article_id)
       SELECT s.user_id, a.id
         FROM subscriptions s JOIN articles a ON a.feed_id = s.feed_id
        WHERE a.id %% 199 = 0""",
]

_UNREAD_SAMPLE = """
SELECT a.id FROM subscriptions s JOIN articles a ON a.feed_id = s.feed_id
 WHERE s.user_id = %s AND a.id %% 5 <> 0
 ORDER BY a.id %% 7919, a.id LIMIT %s
"""
MARKS_PER_USER = 3000


def seeded_excerpt() -> str:
    """The excerpt of every seeded article: the number at the end of the content lies past the
    cut, so the function gives all of them the same text."""
    texts = {excerpt(_content(n)) for n in (1, 10**9)}
    assert len(texts) == 1, texts
    return texts.pop()


def _content(n: int) -> str:
    return f"<p>{'Lorem ipsum dolor sit amet, consectetur. ' * 8}{n}</p>"


@dataclass
class Seeded:
    users: list[uuid.UUID]
    deep_cursor: dict[uuid.UUID, str]
    deep_first_id: dict[uuid.UUID, int]
    unread_ids: dict[uuid.UUID, list[int]]
    seconds: float


def seed(database: str, args: argparse.Namespace) -> Seeded:
    started = time.perf_counter()
    users = [uuid.uuid4() for _ in range(args.users)]
    params = {
        "feeds": args.feeds,
        "articles": args.articles,
        "users": users,
        "subscriptions": args.subscriptions,
        "excerpt": seeded_excerpt(),
    }
    with psycopg.connect(database, autocommit=True, row_factory=dict_row) as conn:
        for statement in _SEED:
            conn.execute(statement, params)
        conn.execute("VACUUM ANALYZE")
        seconds = time.perf_counter() - started
        deep_cursor, deep_first_id, unread_ids = {}, {}, {}
        offset = args.deep_page * PAGE
        for user in users:
            rows = conn.execute(
                OFFSET_PAGE, {"user_id": user, "limit": 2, "offset": offset - 1}
            ).fetchall()
            if len(rows) < 2:
                raise SystemExit(f"user {user} has fewer than {offset + 1} unread articles")
            deep_cursor[user] = encode_cursor(rows[0]["published_at"], rows[0]["id"])
            deep_first_id[user] = rows[1]["id"]
            sample = conn.execute(_UNREAD_SAMPLE, (user, MARKS_PER_USER)).fetchall()
            unread_ids[user] = [row["id"] for row in sample]
    return Seeded(users, deep_cursor, deep_first_id, unread_ids, seconds)


# ---------------------------------------------------------------------------------------------
# Tokens, the stub of auth-service and the servers
# ---------------------------------------------------------------------------------------------


class UserTokens:
    """Tokens like auth-service's (EdDSA, aud "alt", CSRF checked) under the benchmark's key,
    whose public half the stub of auth-service publishes."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()

    def jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": KID, "alg": "EdDSA", "use": "sig"}]}

    def mint(self, user: uuid.UUID) -> str:
        now = int(time.time())
        claims = {
            "iss": "auth-service",
            "aud": "alt",
            "sub": str(user),
            "iat": now,
            "exp": now + 300,  # auth-service's lifetime
            "sid": str(uuid.uuid4()),
            "role": "user",
            "csrf": True,
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": KID})


@contextmanager
def auth_stub(jwks: dict[str, Any]) -> Iterator[str]:
    """auth-service's `/v1/auth/keys`, all alt-backend asks of it here."""
    body = json.dumps(jwks).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/v1/auth/keys" else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@contextmanager
def serving(
    command: list[str], env: dict[str, str], base: str
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit(f"{command} exited with {process.returncode}")
            try:
                if httpx.get(f"{base}/v1/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit(f"{command} did not start")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


@dataclass
class Servers:
    alt: str
    offset: str
    processes: list[int]
    keys: Path


@contextmanager
def servers(database: str, workdir: Path, auth: str, args: argparse.Namespace) -> Iterator[Servers]:
    keys = workdir / "service-keys.json"
    generate_key_file(keys)
    alt_port, offset_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "AUTH_DATABASE_URL": database,
        "ALT_SERVICE_KEYS_FILE": str(keys),
        "ALT_DATA_DIR": str(workdir),
        "ALT_BACKEND_URL": f"http://127.0.0.1:{alt_port}",
        "AUTH_SERVICE_URL": auth,
        "ALT_WORKERS": str(args.workers),
        **({"ALT_DB_POOL_MAX": str(args.pool)} if args.pool else {}),
        "ALT_LOG_LEVEL": args.log_level,
        "ALT_RATE_IP_PER_S": "1000000",
        "ALT_RATE_IP_BURST": "1000000",
        "ALT_RATE_USER_PER_S": "1000000",
        "ALT_RATE_USER_BURST": "1000000",
    }
    alt = f"http://127.0.0.1:{alt_port}"
    offset = f"http://127.0.0.1:{offset_port}"
    baseline = ["-m", "bench.api.server", "--port", str(offset_port)]
    with (
        serving([sys.executable, "-m", "alt.cli", "serve", "alt-backend"], env, alt) as a,
        serving([sys.executable, *baseline, "--workers", str(args.workers)], env, offset) as o,
    ):
        yield Servers(alt, offset, [a.pid, o.pid], keys)


# ---------------------------------------------------------------------------------------------
# CPU time: where a request's work went
# ---------------------------------------------------------------------------------------------


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # gone (a PostgreSQL backend that ended)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """The process and its descendants (uvicorn's workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [pid]
    for child in children.read_text().split() if children.exists() else []:
        found += _tree(int(child))
    return found


def _machine_busy_s() -> float:
    """CPU time every process of the machine has used (all cores), from /proc/stat."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Cpu:
    server_s: float
    database_s: float
    machine_s: float
    wrk_s: float


def cpu_now(server_pid: int, database: str) -> Cpu:
    with psycopg.connect(database, autocommit=True) as conn:
        backends = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            ).fetchall()
        ]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has been waited for
    return Cpu(
        sum(map(_cpu_s, _tree(server_pid))),
        sum(map(_cpu_s, backends)),
        _machine_busy_s(),
        children.ru_utime + children.ru_stime,
    )


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    server: str  # "alt" or "offset"
    method: str
    path: dict[uuid.UUID, str]  # per user; "{id}" takes the user's article ids in turn
    ids: dict[uuid.UUID, list[int]] | None = None


@dataclass
class Result:
    scenario: str
    clients: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    rps: float
    server_cpu_ms: float
    database_cpu_ms: float
    others_cores: float


def scenarios(seeded: Seeded, deep_page: int) -> list[Scenario]:
    every = seeded.users
    return [
        Scenario("list, first page", "alt", "GET", {u: "/v1/articles" for u in every}),
        Scenario(
            f"list, page {deep_page + 1} (cursor)",
            "alt",
            "GET",
            {u: f"/v1/articles?cursor={seeded.deep_cursor[u]}" for u in every},
        ),
        Scenario("OFFSET, first page", "offset", "GET", {u: OFFSET_PATH for u in every}),
        Scenario(
            f"OFFSET, page {deep_page + 1}",
            "offset",
            "GET",
            {u: f"{OFFSET_PATH}?page={deep_page}" for u in every},
        ),
        Scenario("unread counts", "alt", "GET", {u: "/v1/unread-counts" for u in every}),
        # Last: it changes what the others read.
        Scenario(
            "mark read (PUT one)",
            "alt",
            "PUT",
            {u: "/v1/articles/{id}/read" for u in every},
            seeded.unread_ids,
        ),
    ]


def _lua_string(text: str) -> str:
    return json.dumps(text)  # JSON string escapes are valid Lua for these ASCII values


def write_data(path: Path, scenario: Scenario, users: UserTokens, tokens: ServiceTokens) -> None:
    entries = []
    for user, route in scenario.path.items():
        ids = ", ".join(str(i) for i in (scenario.ids or {}).get(user, []))
        entries.append(
            f"{{token = {_lua_string(users.mint(user))}, path = {_lua_string(route)},"
            f" ids = {{{ids}}}}}"
        )
    service = ", ".join(
        _lua_string(tokens.issue("alt-backend")) for _ in range(SERVICE_TOKENS_PER_RUN)
    )
    path.write_text(
        f"return {{method = {_lua_string(scenario.method)}, service_tokens = {{{service}}},"
        f" users = {{{', '.join(entries)}}}}}\n"
    )


def wrk(base: str, data: Path, clients: int, seconds: int) -> dict[str, Any]:
    command = [
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        base,
        "--",
        str(data),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def run_scenario(
    scenario: Scenario,
    clients: int,
    servers: Servers,
    database: str,
    users: UserTokens,
    args: argparse.Namespace,
    workdir: Path,
) -> Result:
    base = servers.alt if scenario.server == "alt" else servers.offset
    pid = servers.processes[0 if scenario.server == "alt" else 1]
    tokens = ServiceTokens("alt-frontend", KeyRing.load(servers.keys))
    data = workdir / "data.lua"
    if scenario.method == "GET":  # warm-up (caches, prepared statements); marks are not redone
        write_data(data, scenario, users, tokens)
        wrk(base, data, clients, args.warmup)
    write_data(data, scenario, users, tokens)
    before = cpu_now(pid, database)
    out = wrk(base, data, clients, args.seconds)
    after = cpu_now(pid, database)
    requests = max(out["requests"], 1)
    return Result(
        scenario=scenario.name,
        clients=clients,
        requests=out["requests"],
        errors=out["errors"],
        p50_ms=out["p50_us"] / 1000,
        p99_ms=out["p99_us"] / 1000,
        rps=out["requests"] / (out["duration_us"] / 1e6),
        server_cpu_ms=(after.server_s - before.server_s) * 1000 / requests,
        database_cpu_ms=(after.database_s - before.database_s) * 1000 / requests,
        others_cores=_others(before, after, out["duration_us"] / 1e6),
    )


def _others(before: Cpu, after: Cpu, seconds: float) -> float:
    """Cores busy with anything but this benchmark (its servers, its database backends, wrk)
    during a run: on a shared machine, what the measurement competed with."""
    ours = sum(
        getattr(after, part) - getattr(before, part) for part in ("server_s", "database_s", "wrk_s")
    )
    return max(0.0, after.machine_s - before.machine_s - ours) / seconds


def check_agreement(servers: Servers, seeded: Seeded, users: UserTokens, deep_page: int) -> None:
    """Both servers give the same pages: the first, and the cursor's deep page where OFFSET's."""
    tokens = ServiceTokens("alt-frontend", KeyRing.load(servers.keys))
    user = seeded.users[0]

    def ids(url: str) -> list[int]:
        headers = {
            SERVICE_TOKEN_HEADER: tokens.issue("alt-backend"),
            USER_TOKEN_HEADER: users.mint(user),
        }
        answer = httpx.get(url, headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert ids(f"{servers.alt}/v1/articles") == ids(f"{servers.offset}{OFFSET_PATH}")
    deep = ids(f"{servers.alt}/v1/articles?cursor={seeded.deep_cursor[user]}")
    assert deep[0] == seeded.deep_first_id[user], deep
    assert deep == ids(f"{servers.offset}{OFFSET_PATH}?page={deep_page}")


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def table(results: list[Result], args: argparse.Namespace) -> list[str]:
    out = [
        "| scenario | clients | requests | errors | p50 ms | p99 ms | req/s "
        "| alt-backend CPU ms/req | PostgreSQL CPU ms/req | other load (cores) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        out.append(
            f"| {r.scenario} | {r.clients} | {r.requests:,} | {r.errors} | {r.p50_ms:.1f} "
            f"| {r.p99_ms:.1f} | {r.rps:,.0f} | {r.server_cpu_ms:.2f} | {r.database_cpu_ms:.2f} "
            f"| {r.others_cores:.2f} |"
        )
    by = {(r.scenario, r.clients): r for r in results}
    deep = f"page {args.deep_page + 1}"
    out += [
        "",
        "| OFFSET / Alt | clients | p50 | p99 | req/s (Alt / OFFSET) |",
        "|---|---|---|---|---|",
    ]
    for clients in args.clients:
        for label, alt, base in (
            ("first page", "list, first page", "OFFSET, first page"),
            (deep, f"list, {deep} (cursor)", f"OFFSET, {deep}"),
        ):
            a, b = by[(alt, clients)], by[(base, clients)]
            out.append(
                f"| {label} | {clients} | {b.p50_ms / a.p50_ms:.1f}x | {b.p99_ms / a.p99_ms:.1f}x "
                f"| {a.rps / b.rps:.1f}x |"
            )
    out.append("")
    for clients in args.clients:
        for name in ("list, first page", f"list, {deep} (cursor)", "unread counts"):
            p99 = by[(name, clients)].p99_ms
            verdict = "met" if p99 < TARGET_MS else "NOT MET"
            out.append(
                f"target p99 < {TARGET_MS:.0f} ms, {name}, {clients} clients: "
                f"{p99:.1f} ms {verdict}"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--feeds", type=int, default=2_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--subscriptions", type=int, default=100, help="feeds per user")
    parser.add_argument("--deep-page", type=int, default=50, help="pages skipped (20 each)")
    parser.add_argument(
        "--clients",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[4, 16],
        help="concurrent connections, one run each (comma-separated)",
    )
    parser.add_argument("--seconds", type=int, default=15, help="per scenario and concurrency")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each measurement")
    parser.add_argument("--workers", type=int, default=1, help="ALT_WORKERS of both servers")
    parser.add_argument(
        "--pool", type=int, help="ALT_DB_POOL_MAX of both servers (default: the setting's)"
    )
    parser.add_argument("--log-level", default="INFO", help="the servers' (as deployed: INFO)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("the load generator is wrk: apt-get install wrk")
    if not 1 <= args.seconds + args.warmup <= MAX_SECONDS:
        raise SystemExit(f"--seconds + --warmup must be at most {MAX_SECONDS}")
    users = UserTokens()
    print(
        f"## {args.articles:,} articles, {args.feeds:,} feeds, {args.users} users x "
        f"{args.subscriptions} feeds; wrk closed loop, {args.seconds} s per run; "
        f"alt-backend and baseline with {args.workers} worker(s) of "
        f"{args.pool or os.environ.get('ALT_DB_POOL_MAX', 'default')} connections; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    results: list[Result] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database() as database,
        auth_stub(users.jwks()) as auth,
    ):
        workdir = Path(tmp)
        migrate(database, Database.APP)
        seeded = seed(database, args)
        print(f"seeded in {seeded.seconds:.0f} s", flush=True)
        with servers(database, workdir, auth, args) as running:
            check_agreement(running, seeded, users, args.deep_page)
            for scenario in scenarios(seeded, args.deep_page):
                for clients in args.clients:
                    result = run_scenario(
                        scenario, clients, running, database, users, args, workdir
                    )
                    print(
                        f"  {result.scenario}, {clients} clients: p50 {result.p50_ms:.1f} ms, "
                        f"p99 {result.p99_ms:.1f} ms, {result.rps:,.0f} req/s, "
                        f"other load {result.others_cores:.2f} cores",
                        flush=True,
                    )
                    results.append(result)
    print("\n".join(table(results, args)), flush=True)


if __name__ == "__main__":
    main()
