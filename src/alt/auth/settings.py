"""auth-service's and the edge's own settings (`ALT_AUTH_*`: `settings.auth`)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator

from alt.platform.sections import section

Seconds = Annotated[int, Field(gt=0)]
Limit = Annotated[int, Field(gt=0)]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AuthSettings(BaseModel):
    """auth-service's and the edge's own settings. Lifetimes and limits default to the security
    test plan's values: sessions idle 7 d and absolute 30 d, 5 failed logins per account and 20
    per client address in 15 minutes."""

    model_config = section("ALT_AUTH_")

    session_idle_s: Seconds = 7 * 86_400
    """A session unused this many seconds ends."""
    session_absolute_s: Seconds = 30 * 86_400
    """A session ends this many seconds after login, used or not."""
    session_touch_s: Seconds = 60
    """A session's last activity is written at most this often."""
    presession_ttl_s: Seconds = 3_600
    """Lifetime of the anonymous pre-session that carries the login form's CSRF token."""
    user_token_ttl_s: Seconds = 300
    """Lifetime of the signed user token other services accept, in seconds."""
    signing_key_max_age_s: Seconds = 30 * 86_400
    """The user-token signing key is replaced when it is this old."""

    login_account_failures: Limit = 5
    """Failed logins (or password confirmations) of one account per window; the last one locks
    the account until the window ends."""
    login_ip_failures: Limit = 20
    """Failed logins from one client address per window."""
    login_window_s: Seconds = 900
    """The window of the failed-login counts, in seconds."""
    login_ip_rate: Limit = 120
    """Login attempts, right or wrong, per client address and rate window."""
    register_ip_rate: Limit = 10
    """Registrations per client address and rate window."""
    csrf_ip_rate: Limit = 120
    """CSRF tokens handed out per client address and rate window."""
    rate_window_s: Seconds = 300
    """The rate window, in seconds."""

    registration_open: bool = True
    """Default of the instance setting `registration_open` until an admin changes it."""

    cors_origins: list[str] = []
    """Origins besides the UI's own (ALT_FRONTEND_URL) that may call /api with credentials."""
    trusted_proxies: list[Network] = []
    """Reverse proxies in front of alt-frontend whose X-Forwarded-For is believed."""

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
