"""One strict parse of a URL that both the policy check and the request use.

`check_url` turns the text a user, a feed or a `Location` header gave us into a `ParsedURL`
whose pieces (scheme, ASCII host, port, request target) are exactly what the client sends. No
second parser ever sees the original text, so the validator and the fetcher cannot disagree
about which host is meant (`http://a@b/`, `http://b#@a/`, `http://127.0.0.\\t1/`).

Host names are mapped the way resolvers map them (UTS #46: case, fullwidth and circled
characters, ideographic full stops), then IPv4 literals are recognised in every spelling the
C library accepts (decimal, hex, octal, one to four parts), so `http://0x7f.1/` and
`http://①②⑦.⓪.⓪.①/` are the loopback address they are. What remains is a DNS name, encoded to
IDNA ASCII; its addresses are checked when the connection is made (`network.GuardedBackend`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Literal

import idna

from alt.platform.egress.addresses import IPAddress, denied_reason
from alt.platform.egress.errors import FetchError
from alt.platform.egress.limits import FetchLimits

DEFAULT_PORTS = {"http": 80, "https": 443}

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Percent-encoded CR, LF and NUL: harmless to us, but the lines they would inject into a naive
# server's or log reader's view are never part of a real feed URL (R8).
_ENCODED_CONTROL = re.compile(r"%(?:0d|0a|00)", re.IGNORECASE)
_SAFE_TARGET = frozenset(range(0x21, 0x7F))
_DIGITS = {8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}
_BAD_CHARACTERS = "invalid host name: it contains characters that are not allowed"


@dataclass(frozen=True, slots=True)
class ParsedURL:
    """A URL that passed `check_url`, in the form the client sends it."""

    scheme: Literal["http", "https"]
    host: str  # lower-case ASCII (IDNA); an IP literal in canonical form, IPv6 without brackets
    port: int
    target: str  # path and query, ASCII, starting with "/"; the fragment is dropped
    ip: IPAddress | None  # the address when the host is an IP literal

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if isinstance(self.ip, IPv6Address) else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.target}"

    def __str__(self) -> str:
        return self.url


def _invalid(message: str) -> FetchError:
    return FetchError("invalid_url", message)


def _blocked(message: str) -> FetchError:
    return FetchError("blocked", message)


class InvalidHost(ValueError):
    """A URL's host that is neither a valid name nor a valid IP literal; the message says why."""


def _parse_ipv4_number(part: str) -> int | None:
    """One part of an IPv4 literal as inet_aton reads it: 0x hex, leading-zero octal, decimal."""
    if part[:2].lower() == "0x":
        digits, base = part[2:], 16
        if not digits:
            return 0
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits or any(c not in _DIGITS[base] for c in digits):
        return None
    return int(digits, base)


def _ends_in_number(labels: list[str]) -> bool:
    """WHATWG: a host whose last label is a number is an IPv4 address (or invalid)."""
    last = labels[-1]
    return (last.isascii() and last.isdigit()) or _parse_ipv4_number(last) is not None


def _parse_ipv4(labels: list[str]) -> IPv4Address:
    """The WHATWG IPv4 parser (the forms inet_aton and getaddrinfo also accept)."""
    if len(labels) > 4:
        raise InvalidHost("invalid IPv4 address in the host: it has more than four parts")
    numbers = [_parse_ipv4_number(label) for label in labels]
    if any(number is None for number in numbers):
        raise InvalidHost("invalid IPv4 address in the host: a part is not a number")
    values = [number for number in numbers if number is not None]
    if any(value > 255 for value in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise InvalidHost("invalid IPv4 address in the host: a part is out of range")
    address = values[-1]
    for index, value in enumerate(values[:-1]):
        address += value << (8 * (3 - index))
    return IPv4Address(address)


def canonical_host(raw: str, *, bracketed: bool) -> tuple[str, IPAddress | None]:
    """The one reading of a URL's host, for the fetcher and for every URL the feeds store.

    Returns the lower-case ASCII host (IDNA for names, canonical text for IP literals, IPv6
    without brackets) and, for IP literals, the address. `bracketed` says the URL had the host
    in [ ]. Raises InvalidHost.
    """
    if bracketed:
        if "%" in raw:
            raise InvalidHost("IPv6 zone identifiers are not allowed in URLs")
        try:
            ip6 = IPv6Address(raw)
        except ValueError:
            raise InvalidHost("the host is not a valid IPv6 address") from None
        return str(ip6), ip6
    if not raw:
        raise InvalidHost("the URL has no host")
    if "%" in raw:
        raise InvalidHost("invalid host name: percent-encoded characters are not allowed")
    try:
        host = idna.uts46_remap(raw, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError):
        raise InvalidHost(_BAD_CHARACTERS) from None
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if not host or any(not label for label in labels):
        raise InvalidHost("invalid host name: it has an empty label")
    if _ends_in_number(labels):
        ip4 = _parse_ipv4(labels)
        return str(ip4), ip4
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=False).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise InvalidHost("invalid host name: not a valid internationalised name") from None
    host = host.lower()
    if len(host) > 253:
        raise InvalidHost("invalid host name: it is longer than 253 characters")
    for label in host.split("."):
        if not _LABEL.fullmatch(label):
            raise InvalidHost(_BAD_CHARACTERS)
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError):
                raise InvalidHost("invalid host name: it has an invalid punycode label") from None
    return host, None


def _encode_target(text: str) -> str:
    """Percent-encode what may not appear raw in a request target (spaces, non-ASCII)."""
    out = []
    for char in text:
        if len(char.encode("utf-8")) == 1 and ord(char) in _SAFE_TARGET:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def _checked_text(url: str, max_bytes: int) -> str:
    """The text checks that come before any parsing; returns the URL without outer spaces."""
    if not isinstance(url, str):
        raise _invalid("the URL is not text")
    url = url.strip(" \t\r\n\f\v")
    if len(url.encode("utf-8", "surrogatepass")) > max_bytes:
        raise _invalid(f"the URL is longer than {max_bytes} bytes")
    if _CONTROL.search(url):
        raise _invalid("the URL contains control characters")
    if "\\" in url:
        raise _invalid("the URL contains a backslash")
    return url


def check_url_text(text: str, limits: FetchLimits) -> None:
    """Checks on raw text (a Location header) before it is joined to a base URL: urljoin, like
    browsers, would silently delete tabs and newlines that `check_url` must see."""
    _checked_text(text, limits.max_url_bytes)


def _split(url: str, max_bytes: int) -> tuple[str, str, bool, int, str]:
    """scheme, raw host, bracketed, port, target; syntax errors only, no policy."""
    url = _checked_text(url, max_bytes)
    scheme, colon, rest = url.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        raise _invalid("not an absolute URL (it needs http:// or https://)")
    scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise _blocked(f"only http and https URLs can be fetched, not {scheme}:")
    if not rest.startswith("//"):
        raise _invalid(f"an {scheme} URL must start with {scheme}://")
    rest = rest[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, target = rest[:end], rest[end:]
    if "@" in authority:
        raise _blocked("URLs with a user name or password are not allowed")
    port_text = ""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise _invalid("the IPv6 address in the host is not closed with ]")
        raw_host, after = authority[1:close], authority[close + 1 :]
        if after and not after.startswith(":"):
            raise _invalid("unexpected characters after the IPv6 address")
        port_text = after[1:]
        bracketed = True
    else:
        raw_host, _, port_text = authority.partition(":")
        bracketed = False
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
            raise _invalid("the port is not a number from 0 to 65535")
        port = int(port_text)
        if port == 0:
            raise _invalid("port 0 cannot be fetched")
    else:
        port = DEFAULT_PORTS[scheme]
    target = target.split("#", 1)[0]
    if _ENCODED_CONTROL.search(target):
        raise _invalid("the URL contains a percent-encoded CR, LF or NUL")
    if not target.startswith("/"):
        target = "/" + target
    return scheme, raw_host, bracketed, port, _encode_target(target)


def canonical_host_port(entry: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) in the canonical form `check_url` gives hosts."""
    try:
        _, raw_host, bracketed, port, target = _split(f"http://{entry}", 2048)
        if target != "/" or not entry.endswith(f":{port}"):
            raise _invalid("expected host:port")
        host, _ = canonical_host(raw_host, bracketed=bracketed)
    except (FetchError, InvalidHost) as exc:
        raise ValueError(f"{entry!r} is not host:port ({exc})") from None
    return host, port


def is_local_name(host: str) -> bool:
    """localhost and *.localhost always mean this machine (RFC 6761)."""
    return host == "localhost" or host.endswith(".localhost")


def check_url(url: str, *, limits: FetchLimits) -> ParsedURL:
    """Validate a URL before anything is resolved or sent, and return its one parse.

    Raises FetchError("invalid_url") for text that is not a fetchable http(s) URL, and
    FetchError("blocked") for URLs the policy refuses: other schemes, credentials, ports outside
    `allowed_ports`, localhost, and private or special IP literals in any spelling.
    Host names that resolve to such addresses are refused when connecting.
    """
    scheme, raw_host, bracketed, port, target = _split(url, limits.max_url_bytes)
    try:
        host, ip = canonical_host(raw_host, bracketed=bracketed)
    except InvalidHost as exc:
        raise _invalid(str(exc)) from None
    parsed = ParsedURL(
        scheme="https" if scheme == "https" else "http", host=host, port=port, target=target, ip=ip
    )
    if len(parsed.url.encode("ascii")) > limits.max_url_bytes:
        raise _invalid(f"the URL is longer than {limits.max_url_bytes} bytes once encoded")
    if (host, port) in limits.private_allowlist:
        return parsed
    if ip is not None:
        why = denied_reason(ip, nat64=limits.nat64)
        if why is not None:
            shown = f"[{host}]" if isinstance(ip, IPv6Address) else host
            raise _blocked(f"{shown} is not a public address: {why}")
    elif is_local_name(host):
        raise _blocked(f"{host} is this machine and cannot be fetched")
    if port not in limits.allowed_ports:
        allowed = ", ".join(str(p) for p in limits.allowed_ports)
        raise _blocked(f"port {port} is not allowed (allowed ports: {allowed})")
    return parsed


__all__ = [
    "DEFAULT_PORTS",
    "InvalidHost",
    "ParsedURL",
    "canonical_host",
    "canonical_host_port",
    "check_url",
    "check_url_text",
    "is_local_name",
]
