"""URL hygiene for everything the feed domain stores: http(s) only, at most 2,048 bytes.

This module decides what a URL *is* (absolute, web, well-formed, normalised); whether a host may
be fetched is the SSRF policy's business (`alt.platform.egress`). The parsing follows what a browser
would do with the same string, so that the URL we check is the URL a reader's click would open:
leading/trailing C0 controls and spaces are stripped, tabs and newlines inside are removed, and a
backslash counts as a slash.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import idna

MAX_URL_BYTES = 2048
WEB_SCHEMES = frozenset({"http", "https"})

_STRIP = "".join(chr(c) for c in range(0x21))  # C0 controls and space, as the URL standard strips
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# Characters left as they are when the path/query/fragment is percent-encoded (RFC 3986
# reserved + unreserved + "%" so that existing escapes survive).
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"


def _prepare(url: str) -> str:
    return _TAB_NEWLINE.sub("", url.strip(_STRIP))


def scheme_of(url: str) -> str | None:
    """The scheme a browser would see in ``url`` (lower-case), or None for a relative reference."""
    match = _SCHEME.match(_prepare(url))
    return match.group(1).lower() if match else None


def _encode_host(host: str) -> str | None:
    host = host.lower()
    if not host or host == ".":
        return None
    if host.isascii():
        # Hostnames never carry these; their presence means an unparsed or hostile authority.
        if any(c in host for c in ' <>"{}|\\^`%\x7f') or min(host) < "!":
            return None
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError:
            return None


# Already in normal form: lower-case scheme and host, only characters that need no escaping.
_NORMAL = re.compile(
    # host: the last label has a letter (so IPv4 addresses in any spelling take the slow path)
    r"https?://(?:[a-z0-9-]+\.)*(?!0x)[0-9-]*[a-z][a-z0-9-]*(?::[1-9][0-9]{0,4})?"
    r"(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)?(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?"
    r"(?:#[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?"
)
_ABSOLUTE_PATH = re.compile(
    r"/(?!/)[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?"
    r"(?:#[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?"
)


def _ipv4_part(part: str) -> int | None:
    try:
        if part[:2] in ("0x", "0X"):
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10) if part.isascii() and part.isdigit() else None
    except ValueError:
        return None


def _ipv4(host: str) -> str:
    """``host`` as a browser reads it: dotted-decimal when it is an IPv4 address in any spelling
    (``2130706433``, ``0x7f.1``, ``0177.0.0.1``); raises ValueError for an invalid one."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if _ipv4_part(parts[-1]) is None:
        return host  # a domain name (its last label is not a number)
    numbers = [_ipv4_part(part) for part in parts]
    if len(parts) > 4 or any(number is None for number in numbers):
        raise ValueError("URL with an invalid IPv4 address")
    values = [number for number in numbers if number is not None]
    if any(value > 255 for value in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise ValueError("URL with an invalid IPv4 address")
    address = values[-1]
    for index, value in enumerate(values[:-1]):
        address += value * 256 ** (3 - index)
    return str(ipaddress.IPv4Address(address))


def normalise_url(url: str, base: str | None = None) -> str:
    """The absolute, normalised http(s) form of ``url`` (resolved against ``base`` if relative).

    Raises ValueError saying why when the result is not a usable web URL: another scheme,
    no host, credentials in it, a bad port, or more than 2,048 bytes.
    """
    if len(url) <= MAX_URL_BYTES and _NORMAL.fullmatch(url) and "/." not in url:
        if url.count("/") == 2:
            return url + "/"
        port_text = url.split("/", 3)[2].partition(":")[2]
        if not port_text or (int(port_text) <= 65535 and port_text not in ("80", "443")):
            return url
    if (
        base is not None
        and _ABSOLUTE_PATH.fullmatch(url)
        and "/." not in url
        and _NORMAL.fullmatch(base)
    ):
        slash = base.find("/", base.index("//") + 2)
        return normalise_url((base if slash < 0 else base[:slash]) + url)
    candidate = _prepare(url).replace("\\", "/")
    if not candidate:
        raise ValueError("empty URL")
    if base is not None and scheme_of(candidate) is None:
        base_prepared = _prepare(base).replace("\\", "/")
        if scheme_of(base_prepared) not in WEB_SCHEMES:
            raise ValueError("relative URL without an http(s) base")
        candidate = urljoin(base_prepared, candidate)
    scheme = scheme_of(candidate)
    if scheme is None:
        raise ValueError("relative URL")
    if scheme not in WEB_SCHEMES:
        raise ValueError(f"{scheme}: URLs are not allowed (only http and https)")
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"malformed URL: {exc}") from None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("URLs with credentials are not allowed")
    hostname = parts.hostname
    if not hostname:
        raise ValueError("URL without a host")
    if ":" in hostname:  # IPv6 literal (urlsplit already checked the brackets)
        try:
            host = f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError:
            raise ValueError("URL with an invalid IPv6 address") from None
    else:
        encoded = _encode_host(hostname)
        if encoded is None:
            raise ValueError("URL with an invalid host name")
        host = _ipv4(encoded)
    if port is not None and not (
        (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
    ):
        host = f"{host}:{port}"
    path = quote(parts.path, safe=_SAFE_PATH) or "/"
    query = quote(parts.query, safe=_SAFE_QUERY)
    fragment = quote(parts.fragment, safe=_SAFE_QUERY)
    result = urlunsplit((scheme, host, path, query, fragment))
    if len(result.encode("utf-8")) > MAX_URL_BYTES:
        raise ValueError(f"URL longer than {MAX_URL_BYTES} bytes")
    return result


def safe_url(url: str | None, base: str | None = None) -> str | None:
    """``normalise_url`` that answers None instead of raising (for optional fields)."""
    if not url:
        return None
    try:
        return normalise_url(url, base)
    except ValueError:
        return None


def is_http_url(url: str) -> bool:
    """True when ``url`` is an absolute http(s) URL that ``normalise_url`` accepts."""
    return safe_url(url) is not None
