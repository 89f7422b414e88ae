"""URL hygiene for everything the feed domain stores: http(s) only, at most 2,048 bytes.

This module decides what a URL *is* (absolute, web, well-formed, normalised); whether a host may
be fetched is the SSRF policy's business (`alt.platform.egress`). The parsing follows what a browser
would do with the same string, so that the URL we check is the URL a reader's click would open:
leading/trailing C0 controls and spaces are stripped, tabs and newlines inside are removed, and a
backslash counts as a slash.
"""

from __future__ import annotations

import re
from ipaddress import IPv6Address
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from alt.platform.egress.urls import canonical_host

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


# Already in normal form: lower-case scheme and host, only characters that need no escaping.
# Host labels are the ones `canonical_host` returns unchanged; punycode labels, and a last label
# that is a number or starts with 0x (an IPv4 address in some spelling), take the slow path.
_LABEL = r"(?!xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_NORMAL = re.compile(
    rf"https?://(?:{_LABEL}\.)*(?!0x|[0-9]+(?:[:/?#]|$)){_LABEL}(?::[1-9][0-9]{{0,4}})?"
    r"(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)?(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?"
    r"(?:#[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?"
)
_ABSOLUTE_PATH = re.compile(
    r"/(?!/)[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?"
    r"(?:#[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?"
)


def normalise_url(url: str, base: str | None = None) -> str:
    """The absolute, normalised http(s) form of ``url`` (resolved against ``base`` if relative).

    Raises ValueError saying why when the result is not a usable web URL: another scheme,
    no host, credentials in it, a bad port, or more than 2,048 bytes.
    """
    if len(url) <= MAX_URL_BYTES and _NORMAL.fullmatch(url) and "/." not in url:
        if url.count("/") == 2:
            return url + "/"
        host, _, port_text = url.split("/", 3)[2].partition(":")
        if len(host) <= 253 and (
            not port_text or (int(port_text) <= 65535 and port_text not in ("80", "443"))
        ):
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
    # The fetcher's own reading of hosts (IPv4 in every spelling, IDNA), so what is stored is
    # what is fetched; urlsplit already checked an IPv6 literal's brackets.
    name, ip = canonical_host(hostname, bracketed=":" in hostname)
    host = f"[{name}]" if isinstance(ip, IPv6Address) else name
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
