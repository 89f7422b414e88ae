"""Logging in and registering, with the limits and the no-enumeration rules of docs/SECURITY.md.

Limits (AUTH-01): every attempt is counted *before* the password is checked, per account (the
normalised e-mail, whether or not such a user exists) and per client address; past 5 attempts
per account or 20 per address in 15 minutes the answer is 429 until the window ends, right
password or not. A successful login clears its account's counter and takes its own attempt
back from the address's count; other accounts' failures stay counted.

No enumeration (AUTH-02): an unknown account costs one Argon2 verification like a known one
and gets the same 401; registration answers 202 with the same body whether or not the address
was free, after the same hashing work.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from alt.auth import audit, throttle, totp
from alt.auth.accounts import Account, Credentials, credentials_by_email, insert_account
from alt.auth.accounts import set_password_hash as store_hash
from alt.auth.context import Client, Runtime
from alt.auth.csrf import drop_presession, find_presession
from alt.auth.passwords import WeakPassword, needs_rehash, rehash, verify_password
from alt.auth.passwords import hash_password as make_hash
from alt.auth.sessions import Opened, find_session, open_session, revoke
from alt.auth.settings import AuthSettings
from alt.auth.tokens import same_secret
from alt.auth.users import UserError, normalise_email
from alt.platform.errors import AltError

LOGIN_ACCOUNT = "login_account"
LOGIN_IP = "login_ip"
LOGIN_RATE = "login_rate"
REGISTER_RATE = "register_rate"
SETUP_RATE = "setup_rate"
CSRF_RATE = "csrf_rate"
REGISTRATION_KEY = "registration_open"


@dataclass(frozen=True)
class Attempt:
    email: str
    password: str
    code: str | None


def account_key(email: str) -> str:
    try:
        return normalise_email(email)
    except UserError:
        return email.strip().lower() or "-"


def too_many(retry_after_s: int) -> AltError:
    return AltError(
        429,
        "rate_limited",
        "Too many attempts; try again later.",
        headers={"Retry-After": str(retry_after_s)},
    )


async def limit_rate(
    conn: AsyncConnection[Any], scope: str, ip: str | None, limit: int, window_s: int
) -> None:
    count = await throttle.hit(conn, scope, ip or "unknown", window_s)
    if count.over(limit):
        raise too_many(count.retry_after_s)


async def require_form_csrf(conn: AsyncConnection[Any], client: Client, cfg: AuthSettings) -> None:
    """Login and registration: the token of the pre-session (or of a live session)."""
    presession = await find_presession(conn, client.presession_token)
    if presession is not None and same_secret(presession.csrf_token, client.csrf_token):
        return
    session = await find_session(conn, client.session_token, cfg)
    if session is not None and same_secret(session.csrf_token, client.csrf_token):
        return
    await audit.record(conn, "csrf.rejected", ip=client.ip, reason="form_token")
    raise AltError(403, "csrf_failed", "This form needs a valid CSRF token; reload the page.")


async def log_in(
    conn: AsyncConnection[Any], rt: Runtime, client: Client, attempt: Attempt
) -> Opened:
    key = account_key(attempt.email)
    counted = await _count_attempt(conn, rt.cfg, key, client.ip)
    creds = await credentials_by_email(conn, attempt.email)
    stored = creds.password_hash if creds else None
    verified = await asyncio.to_thread(verify_password, stored, attempt.password)
    if creds is None or not verified or creds.account.disabled:
        reason = "unknown" if creds is None else "disabled" if verified else "password"
        await _failed(conn, rt.cfg, key, client, creds, reason, counted)
        raise AltError(401, "invalid_credentials", "The e-mail address or password is wrong.")
    if creds.account.totp_enabled:
        await _second_factor(conn, rt.cfg, key, client, creds, attempt.code, counted)
    return await _succeeded(conn, rt.cfg, key, client, creds, attempt.password)


async def _count_attempt(
    conn: AsyncConnection[Any], cfg: AuthSettings, key: str, ip: str | None
) -> throttle.Count:
    await limit_rate(conn, LOGIN_RATE, ip, cfg.login_ip_rate, cfg.rate_window_s)
    account = await throttle.hit(conn, LOGIN_ACCOUNT, key, cfg.login_window_s)
    address = await throttle.hit(conn, LOGIN_IP, ip or "unknown", cfg.login_window_s)
    if account.over(cfg.login_account_failures):
        raise too_many(account.retry_after_s)
    if address.over(cfg.login_ip_failures):
        raise too_many(address.retry_after_s)
    return account


async def _failed(
    conn: AsyncConnection[Any],
    cfg: AuthSettings,
    key: str,
    client: Client,
    creds: Credentials | None,
    reason: str,
    counted: throttle.Count,
) -> None:
    """A failed attempt (already counted); the one that uses up the account's allowance locks
    it until the window ends."""
    user_id = creds.account.id if creds else None
    await audit.record(
        conn, "login.failed", user_id=user_id, ip=client.ip, email=key, reason=reason
    )
    if counted.count == cfg.login_account_failures:
        await throttle.mark_locked(conn, LOGIN_ACCOUNT, key, cfg.login_window_s)
        await audit.record(conn, "login.locked", user_id=user_id, ip=client.ip, email=key)


async def _second_factor(
    conn: AsyncConnection[Any],
    cfg: AuthSettings,
    key: str,
    client: Client,
    creds: Credentials,
    code: str | None,
    counted: throttle.Count,
) -> None:
    account = creds.account
    if code and creds.totp_secret is not None:
        if await totp.accept_code(conn, account.id, creds.totp_secret.decode(), code):
            return
        if await totp.use_recovery_code(conn, account.id, code):
            await audit.record(conn, "totp.recovery_used", user_id=account.id, ip=client.ip)
            return
        await _failed(conn, cfg, key, client, creds, "second_factor", counted)
    raise AltError(
        401,
        "second_factor_required",
        "Enter the code from your authenticator app, or a recovery code.",
    )


async def _succeeded(
    conn: AsyncConnection[Any],
    cfg: AuthSettings,
    key: str,
    client: Client,
    creds: Credentials,
    password: str,
) -> Opened:
    account = creds.account
    await throttle.clear(conn, LOGIN_ACCOUNT, key)
    await throttle.forgive_one(conn, LOGIN_IP, client.ip or "unknown")
    if needs_rehash(creds.password_hash):
        await store_hash(conn, account.id, await asyncio.to_thread(rehash, password), changed=False)
    return await start_session(conn, cfg, client, account)


async def start_session(
    conn: AsyncConnection[Any], cfg: AuthSettings, client: Client, account: Account
) -> Opened:
    """A new session for `account`, in place of whatever identified the browser before."""
    async with conn.transaction():
        await _end_previous(conn, cfg, client)
        opened = await open_session(conn, account, cfg, ip=client.ip, user_agent=client.user_agent)
        await conn.execute("UPDATE users SET last_login_at = now() WHERE id = %s", (account.id,))
        await audit.record(
            conn,
            "login.ok",
            user_id=account.id,
            ip=client.ip,
            session=str(opened.session.public_id),
        )
    return opened


async def _end_previous(conn: AsyncConnection[Any], cfg: AuthSettings, client: Client) -> None:
    """Whatever identified the browser before login stops working (AUTH-03)."""
    await drop_presession(conn, client.presession_token)
    previous = await find_session(conn, client.session_token, cfg)
    if previous is not None:
        await revoke(conn, previous.key, "login")


async def registration_open(conn: AsyncConnection[Any], cfg: AuthSettings) -> bool:
    cursor = await conn.execute(
        "SELECT value FROM app_settings WHERE key = %s", (REGISTRATION_KEY,)
    )
    row = await cursor.fetchone()
    return cfg.registration_open if row is None else bool(row["value"])


async def new_credentials(email: str, password: str) -> tuple[str, str]:
    """A new account's normalised address and password hash; 422 if either is unacceptable."""
    try:
        email = normalise_email(email)
        return email, await asyncio.to_thread(make_hash, password)
    except (WeakPassword, UserError) as exc:
        raise AltError(422, "validation_failed", str(exc)) from None


async def register(
    conn: AsyncConnection[Any], rt: Runtime, client: Client, email: str, password: str
) -> Account | None:
    """Create the account if the address is free; None if it was taken. The caller answers
    the same either way."""
    await limit_rate(conn, REGISTER_RATE, client.ip, rt.cfg.register_ip_rate, rt.cfg.rate_window_s)
    if not await registration_open(conn, rt.cfg):
        raise AltError(403, "registration_closed", "Registration is closed on this instance.")
    email, password_hash = await new_credentials(email, password)
    account = await insert_account(conn, email, password_hash, role="user")
    if account is None:
        await audit.record(conn, "register.taken", ip=client.ip, email=email)
    else:
        await audit.record(conn, "register.ok", user_id=account.id, ip=client.ip, role=account.role)
    return account
