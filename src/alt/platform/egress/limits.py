"""The egress client's limits and policy: the `ALT_FETCH_*` settings (`settings.fetch`)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from alt.platform.sections import section

Kind = Literal["feed", "page", "icon", "image"]

MiB = 1024 * 1024

PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class FetchLimits(BaseModel):
    """Every fetch of a feed, page, icon or image goes through the egress client, with these
    limits. Defaults are the security plan's defaults (docs/SECURITY.md). These are
    process-wide settings for the operator: nothing here can be set per feed or per user.
    Deadlines are for the whole fetch, every redirect hop included; body caps are on the
    decoded body (after Content-Encoding) and on the bytes read."""

    model_config = section("ALT_FETCH_")

    connect_timeout_s: PositiveFloat = 5.0
    """Seconds to open a connection to a site."""
    read_timeout_s: PositiveFloat = 10.0
    """The longest silence while sending or reading, in seconds."""
    deadline_feed_s: PositiveFloat = 30.0
    """Seconds for a whole feed fetch."""
    deadline_page_s: PositiveFloat = 20.0
    """Seconds for a whole article page fetch."""
    deadline_icon_s: PositiveFloat = 10.0
    """Seconds for a whole icon fetch."""
    deadline_image_s: PositiveFloat = 20.0
    """Seconds for a whole image fetch (the image proxy); not in the limits table: the page
    deadline."""

    max_bytes_feed: PositiveInt = 10 * MiB
    """Largest feed, in bytes."""
    max_bytes_page: PositiveInt = 5 * MiB
    """Largest article page, in bytes."""
    max_bytes_icon: PositiveInt = 512 * 1024
    """Largest icon, in bytes."""
    max_bytes_image: PositiveInt = 5 * MiB
    """Largest proxied image, in bytes."""

    max_redirects: Annotated[int, Field(ge=0, le=20)] = 5
    """Redirects followed in one fetch."""
    max_encodings: Annotated[int, Field(ge=1, le=4)] = 2
    """Content-Encodings stacked on one body."""
    max_url_bytes: Annotated[int, Field(ge=64, le=65536)] = 2048
    """Longest URL fetched, in bytes."""
    retry_after_cap_s: PositiveFloat = 86400.0
    """A site's Retry-After is believed up to this many seconds."""

    per_host_concurrency: PositiveInt = 2
    """Fetches at once to one host name, per client."""
    global_concurrency: PositiveInt = 256
    """Fetches at once in total, per client."""

    allowed_ports: tuple[int, ...] = (80, 443, 8080, 8443)
    """Ports any URL may name."""
    allow_private_hosts: tuple[str, ...] = ()
    """Exact `host:port` pairs (`127.0.0.1:8080`, `[::1]:8443`, `feeds.intranet:80`) that may
    be reached although they are private; any port is then allowed for that pair."""
    nat64: bool = False
    """On an IPv6-only host behind NAT64, judge 64:ff9b::/96 answers by their embedded IPv4."""
    ca_file: Path | None = None
    """An extra CA bundle (PEM) trusted besides the public roots; verification is never turned
    off."""

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
