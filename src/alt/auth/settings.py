"""auth-service's and the edge's own settings (`ALT_AUTH_*`), apart from the shared ones.

Lifetimes and limits default to the security test plan's values: sessions idle 7 d and absolute
30 d, 5 failed logins per account and 20 per client address in 15 minutes.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Seconds = Annotated[int, Field(gt=0)]
Limit = Annotated[int, Field(gt=0)]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALT_AUTH_", extra="ignore", frozen=True)

    session_idle_s: Seconds = 7 * 86_400
    session_absolute_s: Seconds = 30 * 86_400
    session_touch_s: Seconds = 60
    """A session's last activity is written at most this often."""
    presession_ttl_s: Seconds = 3_600
    user_token_ttl_s: Seconds = 300
    signing_key_max_age_s: Seconds = 30 * 86_400
    """The user-token signing key is replaced when it is this old."""

    login_account_failures: Limit = 5
    login_ip_failures: Limit = 20
    login_window_s: Seconds = 900
    login_ip_rate: Limit = 120
    """Login attempts, right or wrong, per client address and rate window."""
    register_ip_rate: Limit = 10
    csrf_ip_rate: Limit = 120
    rate_window_s: Seconds = 300

    registration_open: bool = False
    """Default of the instance setting `registration_open` until an admin changes it. Closed:
    the first admin comes from `alt user create --admin` or the setup link `alt up` prints."""
    setup_link_ttl_s: Seconds = 3_600
    """How long the one-time setup link that `alt up` prints on a fresh install works."""

    cors_origins: Annotated[list[str], NoDecode] = []
    """Origins besides the UI's own (ALT_FRONTEND_URL) that may call /api with credentials."""
    trusted_proxies: Annotated[list[Network], NoDecode] = []
    """Reverse proxies in front of alt-frontend whose X-Forwarded-For is believed."""

    stream_session_check_s: Annotated[float, Field(gt=0)] = 5.0
    """How often the edge asks auth-service whether the session behind a relayed event stream
    is still live; the stream ends when it is not (logout, revocation, password change)."""

    purge_retry_s: Seconds = 60
    """How often auth-service retries app-side deletions of deleted users and tidies up."""
    key_encryption_secret: SecretStr | None = None
    """Encrypts the user-token signing keys at rest when set."""

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
