"""The egress client's limits and policy, from `ALT_FETCH_*` environment variables.

Defaults are the limits table of the security test plan (TESTS.md §0). These are process-wide
settings for the operator: nothing here can be set per feed or per user.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Kind = Literal["feed", "page", "icon", "image"]

MiB = 1024 * 1024

PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class FetchLimits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALT_FETCH_", extra="ignore", frozen=True)

    # Timeouts, in seconds. `read_timeout_s` is the longest silence while reading; the deadline
    # is the whole fetch, every redirect hop included.
    connect_timeout_s: PositiveFloat = 5.0
    read_timeout_s: PositiveFloat = 10.0
    deadline_feed_s: PositiveFloat = 30.0
    deadline_page_s: PositiveFloat = 20.0
    deadline_icon_s: PositiveFloat = 10.0
    deadline_image_s: PositiveFloat = 20.0  # not in the limits table: the page deadline

    # Body caps, in bytes, on the decoded body (after Content-Encoding) and on the bytes read.
    max_bytes_feed: PositiveInt = 10 * MiB
    max_bytes_page: PositiveInt = 5 * MiB
    max_bytes_icon: PositiveInt = 512 * 1024
    max_bytes_image: PositiveInt = 5 * MiB

    max_redirects: Annotated[int, Field(ge=0, le=20)] = 5
    max_encodings: Annotated[int, Field(ge=1, le=4)] = 2
    max_url_bytes: Annotated[int, Field(ge=64, le=65536)] = 2048
    retry_after_cap_s: PositiveFloat = 86400.0

    # Concurrency inside one client: per destination host name, and in total.
    per_host_concurrency: PositiveInt = 2
    global_concurrency: PositiveInt = 256

    # Destination policy. `allowed_ports` applies to every URL; `allow_private_hosts` lists exact
    # `host:port` pairs (`127.0.0.1:8080`, `[::1]:8443`, `feeds.intranet:80`) that may be reached
    # although they are private; any port is then allowed for that pair.
    allowed_ports: Annotated[tuple[int, ...], NoDecode] = (80, 443, 8080, 8443)
    allow_private_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    # On an IPv6-only host behind NAT64, judge 64:ff9b::/96 answers by their embedded IPv4.
    nat64: bool = False
    # An extra CA bundle (PEM) trusted in addition to the public roots; verification is never
    # turned off.
    ca_file: Path | None = None

    @field_validator("allowed_ports", "allow_private_hosts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_ports")
    @classmethod
    def _ports(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for port in value:
            if not 1 <= port <= 65535:
                raise ValueError(f"port {port} is out of range")
        return value

    @field_validator("allow_private_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from alt.platform.egress.urls import canonical_host_port

        out = []
        for entry in value:
            host, port = canonical_host_port(entry)
            out.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        return tuple(out)

    @cached_property
    def private_allowlist(self) -> frozenset[tuple[str, int]]:
        """`allow_private_hosts` as canonical (host, port) pairs."""
        pairs = (entry.rsplit(":", 1) for entry in self.allow_private_hosts)
        return frozenset((host.strip("[]"), int(port)) for host, port in pairs)

    def deadline_s(self, kind: Kind) -> float:
        deadline: float = getattr(self, f"deadline_{kind}_s")
        return deadline

    def max_bytes(self, kind: Kind) -> int:
        cap: int = getattr(self, f"max_bytes_{kind}")
        return cap
