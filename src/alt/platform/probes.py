"""Intrusion heuristics: requests that are obvious attack probes are refused with 403 and
recorded as `probe.blocked`.

Deliberately narrow, so that real users are never caught: SQL-injection and XSS fragments,
path traversal, and the user agents of well-known scanners. Passwords, codes and tokens are
never inspected (anything is a valid password). It is a tripwire, not the defence: queries are
parameterised and output is escaped regardless.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote_plus

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "sql_injection",
        re.compile(
            r"\bunion\b[\s(/*]+(all\s+)?select\b|'\s*(or|and)\s+'?\w+'?\s*=\s*'?\w+"
            r"|\bor\s+1\s*=\s*1\b|;\s*(drop|delete|insert|update|alter)\s+\w+"
            r"|\b(sleep|pg_sleep|benchmark|waitfor\s+delay)\s*\(|\binformation_schema\b"
            r"|'\s*;?\s*--",
            re.IGNORECASE,
        ),
    ),
    (
        "xss",
        re.compile(
            r"<\s*(script|iframe|object|embed|svg|img|body)\b[^>]*(>|on\w+\s*=|src\s*=)"
            r"|\bon(error|load|mouseover|focus|click)\s*=|<\s*/\s*script",
            re.IGNORECASE,
        ),
    ),
    (
        "path_traversal",
        re.compile(
            r"(^|[/\\])\.\.([/\\]|$)|%2e%2e|%252e|/etc/(passwd|shadow)|\bwin\.ini\b|\x00",
            re.IGNORECASE,
        ),
    ),
]

_SCANNERS = re.compile(
    r"sqlmap|nikto|nmap|masscan|zgrab|nuclei|acunetix|wpscan|dirbuster|gobuster|feroxbuster"
    r"|ffuf|wfuzz|hydra|nessus|openvas|w3af|arachni|netsparker|burp\s*collaborator|jaeles"
    r"|whatweb|skipfish|commix",
    re.IGNORECASE,
)

_NEVER_INSPECTED = re.compile(r"password|code|token|secret|csrf", re.IGNORECASE)
_MAX_DEPTH = 6


def scanner(user_agent: str | None) -> bool:
    return bool(user_agent and _SCANNERS.search(user_agent))


def suspicious(value: str) -> str | None:
    """The kind of attack `value` looks like, or None."""
    for candidate in {value, unquote_plus(value)}:
        for kind, pattern in _PATTERNS:
            if pattern.search(candidate):
                return kind
    return None


def inspectable_strings(data: Any, depth: int = 0) -> Iterator[str]:
    """Every string in a JSON document, except under keys that hold secrets."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            if not _NEVER_INSPECTED.search(str(key)):
                yield str(key)
                yield from inspectable_strings(value, depth + 1)
    elif isinstance(data, list):
        for item in data:
            yield from inspectable_strings(item, depth + 1)


def find_probe(
    raw_path: str, query: Iterable[tuple[str, str]], user_agent: str | None, body: Any = None
) -> str | None:
    """Why this request is a probe, or None."""
    if scanner(user_agent):
        return "scanner"
    candidates = [raw_path]
    for key, value in query:
        if not _NEVER_INSPECTED.search(key):
            candidates += [key, value]
    candidates += inspectable_strings(body)
    for candidate in candidates:
        kind = suspicious(candidate)
        if kind:
            return kind
    return None
