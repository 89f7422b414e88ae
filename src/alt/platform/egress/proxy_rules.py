"""The shipped egress proxy's filter, made from the client's own deny-list (`addresses.py`).

The client asks the proxy only for tunnels to IP addresses it has resolved and checked, written
as `str(ip_address)` writes them. The tinyproxy filter (deploy/egress/tinyproxy.filter, used
with `FilterDefaultDeny Yes` and `FilterType ere`) therefore admits exactly those: an IPv4
address outside every denied range, in dotted decimal without leading zeros, or a global
unicast IPv6 address (2000::/3) outside every denied range, in lower-case hex groups without
leading zeros. Everything else is refused: every name (the proxy would resolve it), every other
spelling of an address (2130706433, 0x7f.1, 0177.0.0.1, ::ffff:127.0.0.1), and IPv6 outside
2000::/3 (not routed on the internet).

    python -m alt.platform.egress.proxy_rules > deploy/egress/tinyproxy.filter

rewrites the file; tests/egress/test_proxy_config.py fails while it is not current.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, collapse_addresses
from typing import TypeVar

from alt.platform.egress.addresses import DENIED_V4, DENIED_V6

DECIMAL = "0123456789"
HEX = "0123456789abcdef"
EVERY_IPV4 = IPv4Network("0.0.0.0/0")
GLOBAL_UNICAST = IPv6Network("2000::/3")

_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_GROUP = "(0|[1-9a-f][0-9a-f]{0,3})"

Network = TypeVar("Network", IPv4Network, IPv6Network)


def _char_class(low: str, high: str, digits: str) -> str:
    """`[...]` for the digits from `low` to `high` (in the order of `digits`)."""
    chars = digits[digits.index(low) : digits.index(high) + 1]
    if len(chars) == 1:
        return chars
    runs = []
    start = previous = chars[0]
    for char in chars[1:] + "\0":
        if ord(char) != ord(previous) + 1:
            runs.append(start if start == previous else f"{start}-{previous}")
            start = char
        previous = char
    return "[" + "".join(runs) + "]"


def _any_digits(count: int, digits: str) -> str:
    every = _char_class(digits[0], digits[-1], digits)
    return every if count == 1 else f"{every}{{{count}}}"


def _same_length(low: str, high: str, digits: str) -> list[str]:
    """Alternatives that together match every string from `low` to `high` (of one length)."""
    if len(low) == 1:
        return [_char_class(low, high, digits)]
    if low[0] == high[0]:
        return [low[0] + tail for tail in _same_length(low[1:], high[1:], digits)]
    rest = len(low) - 1
    lowest, highest = digits[0] * rest, digits[-1] * rest
    first, last = digits.index(low[0]), digits.index(high[0])
    out = []
    if low[1:] != lowest:
        out += [low[0] + tail for tail in _same_length(low[1:], highest, digits)]
        first += 1
    keep_last = high[1:] != highest
    if keep_last:
        last -= 1
    if first <= last:
        out.append(_char_class(digits[first], digits[last], digits) + _any_digits(rest, digits))
    if keep_last:
        out += [high[0] + tail for tail in _same_length(lowest, high[1:], digits)]
    return out


def number_range(low: int, high: int, base: int) -> str:
    """A regex for the numbers `low` to `high` written in `base` (10 or 16, lower case) without
    leading zeros."""
    digits, spelling = (HEX, "x") if base == 16 else (DECIMAL, "d")
    alternatives = []
    for width in range(1, len(digits) + 1):
        first, last = (0 if width == 1 else base ** (width - 1)), base**width - 1
        if first > high:
            break
        if low <= last:
            start, end = max(low, first), min(high, last)
            alternatives += _same_length(format(start, spelling), format(end, spelling), digits)
    return alternatives[0] if len(alternatives) == 1 else "(" + "|".join(alternatives) + ")"


def _without(whole: Network, denied: Iterable[Network]) -> list[Network]:
    """`whole` less every denied network, as few networks as can be."""
    left = [whole]
    for net in denied:
        kept: list[Network] = []
        for part in left:
            if not part.overlaps(net):
                kept.append(part)
            elif not part.subnet_of(net):
                kept += part.address_exclude(net)
        left = kept
    return sorted(collapse_addresses(left))


def public_ipv4() -> list[IPv4Network]:
    return _without(EVERY_IPV4, (net for net, _ in DENIED_V4))


def public_ipv6() -> list[IPv6Network]:
    """The global unicast networks outside the deny-list (what the filter admits of IPv6)."""
    return _without(GLOBAL_UNICAST, (net for net, _ in DENIED_V6))


def _ipv4_pattern(net: IPv4Network) -> str:
    octets = net.network_address.packed
    whole, bits = divmod(net.prefixlen, 8)
    parts = [str(octet) for octet in octets[:whole]]
    if bits:
        parts.append(number_range(octets[whole], octets[whole] + 2 ** (8 - bits) - 1, 10))
    parts += [_OCTET] * (4 - len(parts))
    return "^" + r"\.".join(parts) + "$"


def _group_ranges(networks: Iterable[IPv6Network]) -> dict[str, list[tuple[int, int]]]:
    """The networks as ranges of one hex group's values, keyed by the groups written before it:
    "" for networks of at most 16 bits (a range of first groups), "2001" for 2001:1::/32."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    for net in networks:
        packed = net.network_address.packed
        first = int.from_bytes(packed[:2], "big")
        if net.prefixlen <= 16:
            key, low, bits = "", first, net.prefixlen
        else:
            key, low, bits = (
                format(first, "x"),
                int.from_bytes(packed[2:4], "big"),
                net.prefixlen - 16,
            )
        if low == 0 or bits > 16:
            # A group of 0 may be left out of the text (2001::1), and deeper prefixes need more.
            raise ValueError(f"{net} cannot be written as a filter rule; extend proxy_rules")
        merged = ranges.setdefault(key, [])
        high = low + 2 ** (16 - bits) - 1
        if merged and merged[-1][1] + 1 == low:
            merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return ranges


def _ipv6_tails(explicit: int) -> list[str]:
    """Every way to write the rest of an IPv6 address after its first `explicit` groups: all
    the other groups, or some of them around one `::`."""
    rest = 8 - explicit
    tails = [f"(:{_GROUP}){{{rest}}}"]
    for before in range(rest):
        tail = f"(:{_GROUP}){{{before}}}::" if before else "::"
        after = rest - 1 - before  # the most groups that may follow the ::
        if after == 1:
            tail += f"({_GROUP})?"
        elif after > 1:
            tail += f"({_GROUP}(:{_GROUP}){{0,{after - 1}}})?"
        tails.append(tail)
    return tails


def _ipv6_patterns(networks: Iterable[IPv6Network]) -> list[str]:
    by_groups: dict[int, list[str]] = {}
    for key, ranges in _group_ranges(networks).items():
        written = "|".join(number_range(low, high, 16) for low, high in ranges)
        by_groups.setdefault(2 if key else 1, []).append(f"{key}:({written})" if key else written)
    return [
        f"^({'|'.join(prefixes)}){tail}$"
        for explicit, prefixes in sorted(by_groups.items())
        for tail in _ipv6_tails(explicit)
    ]


HEADER = """\
# Alt's egress proxy filter for tinyproxy: with FilterDefaultDeny Yes and FilterType ere, the
# proxy admits only these hosts, which are the public IP addresses as Alt writes them (it asks
# for CONNECT tunnels to addresses it has resolved and checked). Every name, every internal
# address and every other spelling of an address is refused with 403.
# Generated from src/alt/platform/egress/addresses.py; do not edit:
#   python -m alt.platform.egress.proxy_rules > deploy/egress/tinyproxy.filter
"""


MAX_RULE = 511  # tinyproxy reads a filter file's lines into 512 bytes


def tinyproxy_filter() -> str:
    rules = [_ipv4_pattern(net) for net in public_ipv4()]
    rules += _ipv6_patterns(public_ipv6())
    too_long = [rule for rule in rules if len(rule) >= MAX_RULE]
    if too_long:
        raise ValueError(f"filter rules longer than tinyproxy reads: {too_long}")
    return HEADER + "\n".join(rules) + "\n"


if __name__ == "__main__":
    print(tinyproxy_filter(), end="")
