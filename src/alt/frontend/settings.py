"""The edge's settings (`settings.edge`). They keep the `ALT_AUTH_` prefix they have always had:
auth-service reads the CORS origins too, to refuse cross-site requests the edge would refuse."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from alt.platform.sections import section

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EdgeSettings(BaseModel):
    """Who may call the edge with credentials, which proxies in front of it are believed, how
    often it checks the session behind a relayed event stream, and how long a page may reuse
    auth-service's answer about a session."""

    model_config = section("ALT_AUTH_")

    cors_origins: list[str] = []
    """Origins besides the UI's own (ALT_FRONTEND_URL) that may call /api with credentials."""
    trusted_proxies: list[Network] = []
    """Reverse proxies in front of alt-frontend whose X-Forwarded-For is believed."""

    stream_session_check_s: Annotated[float, Field(gt=0)] = 5.0
    """How often the edge asks auth-service whether the session behind a relayed event stream
    is still live; the stream ends when it is not (logout, revocation, password change)."""
    page_session_reuse_s: Annotated[float, Field(ge=0, le=5)] = 2.0
    """How long a page (GET) may reuse auth-service's answer about the same session instead of
    asking again; 0 asks every time. A session revoked elsewhere still sees pages this long;
    state-changing requests always ask, and drop the answers about their user's sessions."""

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip().rstrip("/") for item in value.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [
                ipaddress.ip_network(item.strip(), strict=False)
                for item in value.split(",")
                if item.strip()
            ]
        return value
