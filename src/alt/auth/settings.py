"""auth-service's own settings (`ALT_AUTH_*`: `settings.auth`); what the edge reads too is
`alt.frontend.settings.EdgeSettings` (`settings.edge`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr

from alt.platform.sections import section

Seconds = Annotated[int, Field(gt=0)]
Limit = Annotated[int, Field(gt=0)]


class AuthSettings(BaseModel):
    """auth-service's own settings. Lifetimes and limits default to the security
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

    registration_open: bool = False
    """Default of the instance setting `registration_open` until an admin changes it. Closed:
    the first admin comes from `alt user create --admin` or the setup link `alt up` prints."""
    setup_link_ttl_s: Seconds = 3_600
    """How long the one-time setup link that `alt up` prints on a fresh install works."""

    purge_retry_s: Seconds = 60
    """How often auth-service retries app-side deletions of deleted users and tidies up."""
    key_encryption_secret: SecretStr | None = None
    """Encrypts the user-token signing keys at rest when set."""
