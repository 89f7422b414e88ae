"""Reader API benchmark: alt-backend's unread list (keyset pages), unread counts and mark-read
under a load generator on loopback, against an OFFSET-paginated query of the same list as the
baseline, side by side in one run.

    python -m bench.api.run                     # 1,000,000 articles, 2,000 feeds, 100 users
    python -m bench.api.run --articles 100000 --feeds 500 --users 20 --requests 500

A scratch database is seeded with INSERT … SELECT generate_series: articles spread evenly over
the feeds, each user subscribed to `--subscriptions` feeds, every fifth article of a user's
feeds read, one in 199 starred. alt-backend runs in its own process (uvicorn, loopback, as
`alt serve` runs it); the load generator is an asyncio httpx loop of `--clients` concurrent
clients in this process, each request as a random user with a real user token and service
token. The baseline runs the classic OFFSET query of the same page (same columns, same order)
directly on the database through a pool of the same size with the same concurrency: no HTTP,
no JSON, so it is measured more kindly than the API.

Prints p50/p99 latency and requests/s per scenario, and the ratios OFFSET / Alt (higher is better
for Alt). Needs PostgreSQL (ALT_TEST_DATABASE_URL, as the tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg_pool import AsyncConnectionPool

from alt.backend.articles import encode_cursor
from alt.feeds.excerpt import excerpt
from alt.platform.identity import USER_TOKEN_HEADER
from alt.platform.migrate import migrate
from alt.platform.service_tokens import HEADER as SERVICE_TOKEN_HEADER
from alt.platform.service_tokens import KeyRing, ServiceTokens, generate_key_file
from alt.services import Database
from bench.ingest.run import scratch_database

PAGE = 20
KID = "bench-key"
SERVICE_TOKEN_REFRESH_S = 30.0

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

# The baseline: the same unread page as alt-backend's list (same columns), by OFFSET.
OFFSET_PAGE = """
SELECT a.id, a.title, a.url, a.author, a.published_at, left(a.content_html, 4000) AS content_head,
       f.id AS feed_id, coalesce(s.title, nullif(f.title, ''), f.url) AS feed_title,
       false AS read,
       EXISTS (SELECT 1 FROM favorites fv
                WHERE fv.user_id = %(user_id)s AND fv.article_id = a.id) AS starred
  FROM subscriptions s
  JOIN articles a ON a.feed_id = s.feed_id
  JOIN feeds f ON f.id = a.feed_id
 WHERE s.user_id = %(user_id)s
   AND NOT EXISTS (SELECT 1 FROM read_states r
                    WHERE r.user_id = %(user_id)s AND r.article_id = a.id)
 ORDER BY a.published_at DESC, a.id DESC
 LIMIT %(limit)s OFFSET %(offset)s
"""

_UNREAD_SAMPLE = """
SELECT a.id FROM subscriptions s JOIN articles a ON a.feed_id = s.feed_id
 WHERE s.user_id = %s AND a.id %% 5 <> 0
 ORDER BY a.id %% 7919, a.id LIMIT %s
"""


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
    with psycopg.connect(database, autocommit=True) as conn:
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
            (_, _, _, _, at, *_), second = rows
            deep_cursor[user] = encode_cursor(at, rows[0][0])
            deep_first_id[user] = second[0]
            unread_ids[user] = [
                row[0] for row in conn.execute(_UNREAD_SAMPLE, (user, args.requests)).fetchall()
            ]
    return Seeded(users, deep_cursor, deep_first_id, unread_ids, seconds)


# ---------------------------------------------------------------------------------------------
# Tokens and the server
# ---------------------------------------------------------------------------------------------


class UserTokens:
    """Tokens like auth-service's (EdDSA, aud "alt", CSRF checked) under the benchmark's key,
    whose public half the server's stand-in for auth-service publishes."""

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
            "exp": now + 600,
            "sid": str(uuid.uuid4()),
            "role": "user",
            "csrf": True,
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": KID})


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def backend(database: str, keys: Path, jwks: Path, workdir: Path, log_level: str) -> Iterator[str]:
    port, auth_port = free_port(), free_port()
    env = {
        **os.environ,
        # The buckets guard against abuse; the benchmark measures the routes behind them.
        "ALT_RATE_IP_PER_S": "1000000",
        "ALT_RATE_IP_BURST": "1000000",
        "ALT_RATE_USER_PER_S": "1000000",
        "ALT_RATE_USER_BURST": "1000000",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.api.server",
            "--database",
            database,
            "--keys",
            str(keys),
            "--jwks",
            str(jwks),
            "--data-dir",
            str(workdir),
            "--port",
            str(port),
            "--auth-port",
            str(auth_port),
            "--log-level",
            log_level,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise SystemExit(f"alt-backend exited with {process.returncode}")
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait()


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    latencies: list[float]
    wall_s: float
    errors: int

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall_s


async def load(
    name: str, request: Callable[[int], Awaitable[bool]], total: int, clients: int
) -> Result:
    """`total` requests by `clients` concurrent workers; `request(i)` says whether it went
    well."""
    latencies: list[float] = []
    errors = 0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, errors
        while next_index < total:
            index = next_index
            next_index += 1
            started = time.perf_counter()
            ok = await request(index)
            latencies.append(time.perf_counter() - started)
            errors += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return Result(name, latencies, time.perf_counter() - started, errors)


class Api:
    def __init__(self, base: str, keys: Path, seeded: Seeded, users: UserTokens) -> None:
        self.http = httpx.AsyncClient(
            base_url=base, timeout=30, limits=httpx.Limits(max_connections=1000)
        )
        self.tokens = ServiceTokens("alt-frontend", KeyRing.load(keys))
        self.service_token = ""
        self.minted = float("-inf")
        self.seeded = seeded
        self.user_tokens = {user: users.mint(user) for user in seeded.users}
        self.random = random.Random(6)  # noqa: S311 (load shape, not security)

    def headers(self, user: uuid.UUID) -> dict[str, str]:
        if time.monotonic() - self.minted > SERVICE_TOKEN_REFRESH_S:
            self.service_token = self.tokens.issue("alt-backend")
            self.minted = time.monotonic()
        return {SERVICE_TOKEN_HEADER: self.service_token, USER_TOKEN_HEADER: self.user_tokens[user]}

    def user(self, index: int) -> uuid.UUID:
        return self.seeded.users[index % len(self.seeded.users)]

    async def call(self, method: str, path: str, user: uuid.UUID, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, path, headers=self.headers(user), **kwargs)

    async def first_page(self, index: int) -> bool:
        answer = await self.call("GET", "/v1/articles", self.user(index))
        return answer.status_code == 200 and len(answer.json()["items"]) == PAGE

    async def deep_page(self, index: int) -> bool:
        user = self.user(index)
        params = {"cursor": self.seeded.deep_cursor[user]}
        answer = await self.call("GET", "/v1/articles", user, params=params)
        return answer.status_code == 200 and len(answer.json()["items"]) == PAGE

    async def counts(self, index: int) -> bool:
        answer = await self.call("GET", "/v1/unread-counts", self.user(index))
        return answer.status_code == 200

    async def mark_read(self, index: int) -> bool:
        user = self.user(index)
        ids = self.seeded.unread_ids[user]
        article = ids[(index // len(self.seeded.users)) % len(ids)]
        answer = await self.call("PUT", f"/v1/articles/{article}/read", user)
        return answer.status_code == 204


class Offset:
    def __init__(self, pool: AsyncConnectionPool[Any], seeded: Seeded, depth: int) -> None:
        self.pool = pool
        self.seeded = seeded
        self.depth = depth

    async def page(self, index: int, offset: int) -> bool:
        user = self.seeded.users[index % len(self.seeded.users)]
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                OFFSET_PAGE, {"user_id": user, "limit": PAGE, "offset": offset}
            )
            return len(await cursor.fetchall()) == PAGE

    async def first_page(self, index: int) -> bool:
        return await self.page(index, 0)

    async def deep_page(self, index: int) -> bool:
        return await self.page(index, self.depth * PAGE)


async def measure(
    base: str,
    database: str,
    keys: Path,
    seeded: Seeded,
    users: UserTokens,
    args: argparse.Namespace,
) -> dict[str, Result]:
    api = Api(base, keys, seeded, users)
    results: dict[str, Result] = {}
    try:
        # Both sides must agree: the deep page through the cursor starts where OFFSET's does.
        user = seeded.users[0]
        deep = await api.call(
            "GET", "/v1/articles", user, params={"cursor": seeded.deep_cursor[user]}
        )
        assert deep.json()["items"][0]["id"] == seeded.deep_first_id[user], deep.text
        await load("warm-up", api.first_page, min(args.requests, 500), args.clients)
        results["list, first page"] = await load(
            "list first", api.first_page, args.requests, args.clients
        )
        results[f"list, page {args.deep_page + 1} (cursor)"] = await load(
            "list deep", api.deep_page, args.requests, args.clients
        )
        results["unread counts"] = await load("counts", api.counts, args.requests, args.clients)
        results["mark read (PUT one)"] = await load(
            "mark read", api.mark_read, args.requests, args.clients
        )
    finally:
        await api.http.aclose()
    async with AsyncConnectionPool(
        database, min_size=args.pool, max_size=args.pool, open=False
    ) as pool:
        offset = Offset(pool, seeded, args.deep_page)
        await load("warm-up", offset.first_page, min(args.requests, 500), args.clients)
        results["OFFSET first page"] = await load(
            "offset first", offset.first_page, args.requests, args.clients
        )
        results["OFFSET deep page"] = await load(
            "offset deep", offset.deep_page, args.requests, args.clients
        )
    return results


def table(results: dict[str, Result], args: argparse.Namespace) -> list[str]:
    out = [
        "| scenario | requests | errors | p50 ms | p99 ms | req/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        out.append(
            f"| {name} | {len(result.latencies)} | {result.errors} | "
            f"{result.quantile(0.5):.1f} | {result.quantile(0.99):.1f} | {result.rps:,.0f} |"
        )
    out += ["", "| ratio OFFSET / Alt | p50 | p99 | req/s (Alt / OFFSET) |", "|---|---|---|---|"]
    deep_name = f"list, page {args.deep_page + 1} (cursor)"
    for label, alt, base in (
        ("first page", "list, first page", "OFFSET first page"),
        (f"page {args.deep_page + 1}", deep_name, "OFFSET deep page"),
    ):
        a, b = results[alt], results[base]
        out.append(
            f"| {label} | {b.quantile(0.5) / a.quantile(0.5):.1f}x | "
            f"{b.quantile(0.99) / a.quantile(0.99):.1f}x | {a.rps / b.rps:.1f}x |"
        )
    target = 50.0
    for name in ("list, first page", deep_name, "unread counts"):
        p99 = results[name].quantile(0.99)
        out.append(
            f"target p99 < {target:.0f} ms, {name}: {p99:.1f} ms "
            f"{'met' if p99 < target else 'NOT MET'}"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--feeds", type=int, default=2_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--subscriptions", type=int, default=100, help="feeds per user")
    parser.add_argument("--deep-page", type=int, default=50, help="pages skipped (20 each)")
    parser.add_argument("--requests", type=int, default=2000, help="per scenario")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--pool", type=int, default=10, help="baseline pool (alt-backend's)")
    parser.add_argument("--log-level", default="INFO", help="alt-backend's (as deployed: INFO)")
    args = parser.parse_args()
    users = UserTokens()
    print(
        f"## {args.articles:,} articles, {args.feeds:,} feeds, {args.users} users x "
        f"{args.subscriptions} feeds, {args.clients} clients, {os.cpu_count()} CPUs",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp, scratch_database() as database:
        workdir = Path(tmp)
        keys, jwks = workdir / "service-keys.json", workdir / "jwks.json"
        generate_key_file(keys)
        jwks.write_text(json.dumps(users.jwks()))
        migrate(database, Database.APP)
        seeded = seed(database, args)
        print(f"seeded in {seeded.seconds:.0f} s", flush=True)
        with backend(database, keys, jwks, workdir, args.log_level) as base:
            results = asyncio.run(measure(base, database, keys, seeded, users, args))
    print("\n".join(table(results, args)), flush=True)


if __name__ == "__main__":
    main()
