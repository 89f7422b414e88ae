"""Which IP addresses outbound fetches may never reach.

A CIDR deny-list (docs/SECURITY.md SSRF-04), not the `ipaddress` flags: on CPython 3.11 those call
`::ffff:127.0.0.1` not loopback, `100.64.0.0/10` not private and `224.0.0.1` global, and their
answers change with the interpreter's patch level. IPv6 addresses that embed an IPv4 address
(mapped, compatible, NAT64, 6to4) are judged by the embedded address too, so the message names
what the address really points at.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

IPAddress = IPv4Address | IPv6Address

_V4: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
    ("10.0.0.0/8", "private (10.0.0.0/8)"),
    ("100.64.0.0/10", "shared address space (100.64.0.0/10)"),
    ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
    ("169.254.0.0/16", "link-local / cloud metadata (169.254.0.0/16)"),
    ("172.16.0.0/12", "private (172.16.0.0/12)"),
    ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
    ("192.0.2.0/24", "documentation (192.0.2.0/24)"),
    ("192.88.99.0/24", "6to4 relay anycast (192.88.99.0/24)"),
    ("192.168.0.0/16", "private (192.168.0.0/16)"),
    ("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
    ("198.51.100.0/24", "documentation (198.51.100.0/24)"),
    ("203.0.113.0/24", "documentation (203.0.113.0/24)"),
    ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
    ("240.0.0.0/4", "reserved (240.0.0.0/4)"),
)

_V6: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified (::/128)"),
    ("::1/128", "loopback (::1/128)"),
    ("::/96", "IPv4-compatible (::/96)"),
    ("::ffff:0:0/96", "IPv4-mapped (::ffff:0:0/96)"),
    ("64:ff9b::/96", "NAT64 (64:ff9b::/96)"),
    ("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
    ("100::/64", "discard-only (100::/64)"),
    ("2001::/32", "Teredo (2001::/32)"),
    ("2001:db8::/32", "documentation (2001:db8::/32)"),
    ("2002::/16", "6to4 (2002::/16)"),
    ("3fff::/20", "documentation (3fff::/20)"),
    ("fc00::/7", "unique local (fc00::/7)"),
    ("fe80::/10", "link-local (fe80::/10)"),
    ("fec0::/10", "site-local (fec0::/10)"),
    ("ff00::/8", "multicast (ff00::/8)"),
)

DENIED_V4: tuple[tuple[IPv4Network, str], ...] = tuple((IPv4Network(net), why) for net, why in _V4)
DENIED_V6: tuple[tuple[IPv6Network, str], ...] = tuple((IPv6Network(net), why) for net, why in _V6)

_MAPPED = ip_network("::ffff:0:0/96")
_COMPATIBLE = ip_network("::/96")
_NAT64 = ip_network("64:ff9b::/96")
_6TO4 = ip_network("2002::/16")


def embedded_ipv4(ip: IPv6Address) -> tuple[IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any."""
    if ip in _MAPPED:
        return IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-mapped"
    if ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip in _6TO4:
        return IPv4Address((int(ip) >> 80) & 0xFFFFFFFF), "6to4"
    if ip in _COMPATIBLE and int(ip) > 1:
        return IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-compatible"
    return None


def _v4_reason(ip: IPv4Address) -> str | None:
    for net, why in DENIED_V4:
        if ip in net:
            return why
    return None


def denied_reason(ip: IPAddress, *, nat64: bool = False) -> str | None:
    """Why `ip` must not be fetched from, or None when it is a public address.

    `nat64=True` is for IPv6-only hosts behind NAT64: a `64:ff9b::/96` address is then judged by
    the IPv4 address it embeds instead of being denied as a whole.
    """
    if isinstance(ip, IPv4Address):
        return _v4_reason(ip)
    ip = IPv6Address(int(ip))  # drop any zone id: fe80::1%eth0 is fe80::1
    inner = embedded_ipv4(ip)
    if inner is not None:
        v4, kind = inner
        v4_why = _v4_reason(v4)
        if v4_why is not None:
            return f"{kind} form of {v4}, {v4_why}"
        if nat64 and kind == "NAT64":
            return None
    for net, why in DENIED_V6:
        if ip in net:
            return why
    return None
